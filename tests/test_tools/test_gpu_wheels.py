"""tools/gpu_wheels.py: the wheel list of tools/gpu_check.sh resolves for
Python 3.12 on manylinux x86-64, every requirement met by the list or the
GPU machine, within 64 MiB (the resolution asks the package index for
metadata only; skipped where pip reaches none)."""
import subprocess
import sys

import pytest

from tools import gpu_wheels
from tools.gpu_wheels import Wheel


def wheel(name, version='1.0', requires=()):
    return Wheel(name, version, f'{name}-{version}-py3-none-any.whl',
                 list(requires))


def test_requirements_met_by_the_list_or_the_machine_pass():
    wheels = [
        wheel('mmengine', '0.10.7', [
            'addict', 'numpy', 'opencv-python>=3', 'pytest; extra == "tests"'
        ]),
        wheel('addict', '2.4.0'),
    ]
    # numpy is the machine's, opencv-python its opencv-python-headless,
    # pytest only for an extra.
    assert gpu_wheels.unmet_requirements(wheels, {}) == []


def test_unmet_requirements_are_named():
    wheels = [
        wheel('mmsegmentation', '1.2.2', ['prettytable', 'numpy']),
        wheel('importlib-metadata', '10.2.0',
              ['zipp>=3.20', 'lazy-importer>=0.1; python_version < "3.15"']),
        wheel('ftfy', '6.3.1', ['wcwidth>=0.3']),
        wheel('wcwidth', '0.2.0'),
        wheel('pywin', '1', ['pywin32; sys_platform == "win32"']),
    ]
    sdists = {'mmcv==2.1.0': ['mmengine>=0.3.0', 'yapf']}
    assert gpu_wheels.unmet_requirements(wheels, sdists) == [
        'mmsegmentation==1.2.2 needs prettytable',
        'importlib-metadata==10.2.0 needs lazy-importer>=0.1; '
        'python_version < "3.15"',
        'ftfy==6.3.1 needs wcwidth>=0.3',  # the listed one is too old
        'mmcv==2.1.0 needs mmengine>=0.3.0',
        'mmcv==2.1.0 needs yapf',
    ]


def test_an_sdist_meets_requirements_on_it():
    wheels = [wheel('mmsegmentation', '1.2.2', ['mmcv<2.2.0,>=2.0.0rc4'])]
    assert gpu_wheels.unmet_requirements(wheels,
                                         {'mmcv==2.1.0': ['numpy']}) == []
    assert gpu_wheels.sdist_filename('mmcv==2.1.0') == 'mmcv-2.1.0.tar.gz'


def test_the_folder_holds_exactly_the_list_within_the_limit(tmp_path):
    for name, size in (('a-1-py3-none-any.whl', 10), ('b-1.tar.gz', 20)):
        (tmp_path / name).write_bytes(b'x' * size)
    names = ['a-1-py3-none-any.whl', 'b-1.tar.gz']
    assert gpu_wheels.check_folder(str(tmp_path), names) == 30
    with pytest.raises(ValueError, match='more than'):
        gpu_wheels.check_folder(str(tmp_path), names, limit=29)
    (tmp_path / 'a-2-py3-none-any.whl').write_bytes(b'')
    with pytest.raises(
            ValueError,
            match=r"missing \['c.whl'\], not on the list "
            r"\['a-2-py3-none-any.whl'\]"):
        gpu_wheels.check_folder(str(tmp_path), names + ['c.whl'])


def test_check_machine_names_missing_modules(capsys):
    assert gpu_wheels.missing_modules({'numpy': 'numpy'}) == []
    assert gpu_wheels.missing_modules(
        {'nothere':
         'no_such_module_x'}) == ['nothere (import no_such_module_x)']
    # This environment has everything the GPU machine is assumed to have.
    assert gpu_wheels.main(['--check-machine']) == 0


def _index_reachable():
    """Whether pip reaches a package index from here."""
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'index', 'versions', 'addict'],
        capture_output=True,
        timeout=120)
    return result.returncode == 0


@pytest.fixture(scope='module')
def resolved():
    if not _index_reachable():
        pytest.skip('pip reaches no package index from here')
    return gpu_wheels.resolve(list(gpu_wheels.WHEELS))


def test_the_list_resolves_for_python_3_12(resolved):
    assert [(w.name, w.version) for w in resolved
            ] == [gpu_wheels.pinned(r) for r in gpu_wheels.WHEELS]
    for w in resolved:  # pure Python, or built for CPython 3.12 on x86-64
        tags = w.filename[:-len('.whl')].split('-')[-3:]
        assert tags[2] == 'any' or 'manylinux' in tags[2], w.filename
        assert tags[0].startswith(('py3', 'py2.py3', 'cp3')), w.filename
    assert gpu_wheels.unmet_requirements(resolved, gpu_wheels.SDISTS) == []
