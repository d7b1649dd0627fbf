"""How configs/ is laid out: names, inheritance depth, paper twins chosen by
path, hooks by name. Bases are read from the files' text (their ``_base_``
assignment); the leaf checks that need values parse each config once."""
import ast
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(ROOT, 'configs')
ALL_FILES = sorted(
    glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True))
LEAVES = sorted(p for p in ALL_FILES
                if '_base_' not in osp.relpath(p, CONFIG_DIR).split(osp.sep))
MAX_DEPTH = 3
#: <method>_<model>_<N>xb<B>_<data>-<ratio>_<crop>.py, B = 8 (supervised) or
#: 4+4 (labeled + pseudo-labeled), for methods that train online (UniMatch)
#: <labeled>+<unlabeled>; the paper protocol's twins end their data part in
#: -paper (voc-aug-paper-1-20).
NAME = re.compile(r'(?P<method>[a-z0-9]+(?:-[a-z0-9]+)*)'
                  r'_(?P<model>[a-z0-9]+(?:-[a-z0-9]+)*)'
                  r'_(?P<gpus>\d+)xb(?P<batch>\d+(?:\+\d+)?)'
                  r'_(?P<data>[a-z0-9]+(?:-[a-z0-9]+)*?)'
                  r'-(?P<ratio>1-\d+|full)'
                  r'_(?P<crop>\d+x\d+)\.py')
#: The data parts that have a paper protocol, and its base per dataset.
PAPER_DATA = {'voc-aug': 'voc', 'cityscapes': 'cityscapes'}
#: Folders of methods under their authors' protocol only (no twins).
OWN_PROTOCOL = {'unimatch'}


def rel(path):
    return osp.relpath(path, CONFIG_DIR)


def bases_of(path):
    """The absolute paths a config's ``_base_`` names (none: [])."""
    tree = ast.parse(open(path).read())
    values = [
        node.value for node in tree.body if isinstance(node, ast.Assign)
        and [getattr(t, 'id', None) for t in node.targets] == ['_base_']
    ]
    assert len(values) <= 1, f'{rel(path)} sets _base_ twice'
    if not values:
        return []
    bases = ast.literal_eval(values[0])
    if isinstance(bases, str):
        bases = [bases]
    return [osp.normpath(osp.join(osp.dirname(path), b)) for b in bases]


def depth(path):
    """Inheritance levels below a config: 0 for a file without bases."""
    bases = bases_of(path)
    for base in bases:
        assert osp.isfile(base), f'{rel(path)}: no base {base}'
    return 1 + max(map(depth, bases)) if bases else 0


def twin_of(path):
    """The paper-protocol twin of a corrected leaf: the same name in the
    ``paper/`` subfolder, its data part suffixed ``-paper``."""
    match = NAME.fullmatch(osp.basename(path))
    name = osp.basename(path)
    start, end = match.span('data')
    name = name[:end] + '-paper' + name[end:]
    return osp.join(osp.dirname(path), 'paper', name)


def corrected_leaves():
    """The leaves of a dataset with a paper protocol, outside paper/."""
    out = []
    for path in LEAVES:
        match = NAME.fullmatch(osp.basename(path))
        if match and match['data'] in PAPER_DATA and osp.basename(
                osp.dirname(path)) not in OWN_PROTOCOL | {'paper'}:
            out.append(path)
    return out


def test_configs_found():
    assert len(LEAVES) > 20 and corrected_leaves()


@pytest.mark.parametrize('path', LEAVES, ids=rel)
def test_inheritance_is_at_most_three_levels(path):
    assert depth(path) <= MAX_DEPTH


def test_depth_counts_levels():
    # A paper twin: leaf -> protocols/paper_voc.py -> protocols/paper.py ->
    # models/deeplabv2_r101-d8.py, and the schedule as deep.
    [twin] = glob.glob(
        osp.join(CONFIG_DIR, 'dst_cbc', 'paper',
                 'dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-paper-1-20_*.py'))
    assert depth(twin) == 3
    protocol = osp.join(CONFIG_DIR, '_base_', 'protocols', 'paper_voc.py')
    assert bases_of(twin) == [protocol]
    assert depth(protocol) == 2


@pytest.mark.parametrize('path', ALL_FILES, ids=rel)
def test_no_config_reads_the_environment(path):
    """Every experiment is chosen by its path: no ``{{$VAR}}``, and hooks
    are named (``_base_.pseudo_label_hook``), never taken by position."""
    text = open(path).read()
    assert '{{$' not in text
    assert 'custom_hooks[' not in text


@pytest.mark.parametrize('path', LEAVES, ids=rel)
def test_leaf_name_follows_the_pattern(path):
    assert NAME.fullmatch(osp.basename(path)), (
        f'{rel(path)}: not <method>_<model>_<N>xb<B>_<data>-<ratio>_'
        '<crop>.py')


def test_work_dirs_differ():
    """MMSeg's default work dir is work_dirs/<file stem>: one per leaf."""
    stems = [osp.splitext(osp.basename(p))[0] for p in LEAVES]
    assert len(set(stems)) == len(stems)


@pytest.mark.parametrize('path', corrected_leaves(), ids=rel)
def test_every_voc_and_cityscapes_leaf_has_its_paper_twin(path):
    twin = twin_of(path)
    assert osp.isfile(twin), f'{rel(path)} has no paper twin {rel(twin)}'
    dataset = PAPER_DATA[NAME.fullmatch(osp.basename(path))['data']]
    protocols = osp.join(CONFIG_DIR, '_base_', 'protocols')
    assert bases_of(path) == [osp.join(protocols, f'corrected_{dataset}.py')]
    assert bases_of(twin) == [osp.join(protocols, f'paper_{dataset}.py')]


def test_every_paper_config_is_a_twin():
    twins = {twin_of(p) for p in corrected_leaves()}
    in_paper_folders = {
        p
        for p in LEAVES if osp.basename(osp.dirname(p)) == 'paper'
    }
    assert in_paper_folders == twins
    for path in twins:
        assert NAME.fullmatch(osp.basename(path))['data'].endswith('-paper')


@pytest.mark.parametrize('path', LEAVES, ids=rel)
def test_name_says_protocol_batch_and_crop(path):
    """The name's batch (8 labeled, or 4 + 4 with self-training rounds),
    crop and protocol are the config's; the hooks run are the named ones."""
    match = NAME.fullmatch(osp.basename(path))
    cfg = Config.fromfile(path, import_custom_modules=False)
    if osp.basename(osp.dirname(path)) in OWN_PROTOCOL:
        labeled, unlabeled = map(int, match['batch'].split('+'))
        assert cfg.train_dataloader.batch_size == labeled + unlabeled
        assert cfg.train_dataloader.sampler.num_pseudo == unlabeled
        assert match['gpus'] == '1'
        # the method is the protocol or a variant of it (-from-baseline)
        assert match['method'].startswith(cfg.protocol)
        assert tuple(cfg.crop_size) == tuple(
            int(s) for s in match['crop'].split('x'))
        assert cfg.report_hook in cfg.custom_hooks
        return
    assert cfg.train_dataloader.batch_size == 8
    assert match['batch'] == ('4+4' if cfg.train_cfg.alphas else '8')
    assert match['gpus'] == '1'
    assert tuple(cfg.crop_size) == tuple(
        int(s) for s in match['crop'].split('x'))
    if match['data'].endswith('-paper'):
        assert cfg.protocol == 'paper'
    elif match['data'] in PAPER_DATA:
        assert cfg.protocol == 'corrected'
    labeling = [h for h in cfg.custom_hooks if h.type == 'PseudoLabelHook']
    if labeling:  # what the config names is what runs
        assert labeling == [cfg.pseudo_label_hook]
    assert cfg.report_hook in cfg.custom_hooks
