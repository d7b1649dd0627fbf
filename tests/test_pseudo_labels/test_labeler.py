"""PseudoLabeler on a tiny on-disk MMSeg dataset, with hand-computed labels.

Two 4x6 images, ``img/a.jpg`` and ``img/sub/b.jpg``, 3 classes. A fake
segmentor returns logits whose argmax is ``L_*`` and whose uncertainty is
``u = K_* / 128`` (exact in float16, all distinct within a class):

- class 0: a has u*128 = 1, 3, .., 19 and b 2, 4, .., 20, 21, 22 (22 pixels)
- class 1: a has 23, 25, .., 41 and b 24, 26, .., 42, 43, 44 (22 pixels)
- class 2: a has 1, 5, 9, 20 (4 pixels)

alpha = 0.5 keeps 11, 11 and 2 pixels: u*128 <= 11, <= 33 and <= 5.
"""
import json
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmcv.transforms import LoadImageFromFile, RandomFlip, Resize
from mmengine.config import ConfigDict
from mmengine.model import MMDistributedDataParallel
from PIL import Image
from torch import nn

import dst_cbc.pseudo_labels.label_folder as label_folder
import dst_cbc.pseudo_labels.labeler as labeler_module
from dst_cbc.pseudo_labels import PseudoLabeler, original_size_logits
from mmseg.datasets import BaseSegDataset
from mmseg.datasets.transforms import PackSegInputs
from mmseg.models import SegDataPreProcessor
from mmseg.registry import MODELS

I = 255  # noqa: E741
CLASSES = ('c0', 'c1', 'c2')

L_A = [[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1], [0, 0, 2, 2, 1, 1],
       [0, 0, 2, 2, 1, 1]]
K_A = [[1, 3, 5, 23, 25, 27], [7, 9, 11, 29, 31, 33], [13, 15, 1, 5, 35, 37],
       [17, 19, 9, 20, 39, 41]]
L_B = [[1] * 6, [1] * 6, [0] * 6, [0] * 6]
K_B = [[24, 26, 28, 30, 32, 34], [36, 38, 40, 42, 43, 44],
       [2, 4, 6, 8, 10, 12], [14, 16, 18, 20, 21, 22]]
LOGIT_TABLE = {'a.jpg': (L_A, K_A), osp.join('sub', 'b.jpg'): (L_B, K_B)}

# alpha = 0.5, class balanced
P_A = [[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1], [I, I, 2, 2, I, I], [I] * 6]
P_B = [[1, 1, 1, 1, 1, I], [I] * 6, [0, 0, 0, 0, 0, I], [I] * 6]
# alpha = 0.5, one global threshold: the 24 most confident of 48 pixels are
# u*128 <= 20 (20 of class 0 + all 4 of class 2); class 1 loses everything
P_A_GLOBAL = [[0, 0, 0, I, I, I], [0, 0, 0, I, I, I], [0, 0, 2, 2, I, I],
              [0, 0, 2, 2, I, I]]
P_B_GLOBAL = [[I] * 6, [I] * 6, [0] * 6, [0, 0, 0, 0, I, I]]

# ground truth: L with a(0,0) = 1, a(0,5) = IGNORE, a(2,2) = 0, b(2,0) = 2
GT_A = [[1, 0, 0, 1, 1, I], [0, 0, 0, 1, 1, 1], [0, 0, 0, 2, 1, 1],
        [0, 0, 2, 2, 1, 1]]
GT_B = [[1] * 6, [1] * 6, [2, 0, 0, 0, 0, 0], [0] * 6]
# Over pixels kept in P and valid in GT (13 in a, 10 in b = 23):
#   class 0: pred 6 + 5 = 11, gt 6 + 4 = 10, intersection 5 + 4 = 9 -> 9/12
#   class 1: pred 5 + 5 = 10, gt 6 + 5 = 11, intersection 10 -> 10/11
#   class 2: pred 2, gt 1 + 1 = 2, intersection 1 -> 1/3
#   correct: 11 in a + 9 in b = 20 of 23
CLASS_IOU = [75.0, 100 * 10 / 11, 100 / 3]


def logits_for(label, u, num_classes=3):
    """(C, H, W) logits with argmax ``label`` and ``1 - max softmax = u``."""
    label = torch.as_tensor(label)
    u = torch.as_tensor(u, dtype=torch.float64)
    logits = torch.log(u / (num_classes - 1)).expand(num_classes, *u.shape)
    logits = logits.clone()
    logits.scatter_(0, label.unsqueeze(0), torch.log1p(-u).unsqueeze(0))
    return logits.float()


class FakeSegmentor(nn.Module):
    """Returns the table's logits at the original size; counts calls.

    Has what :func:`original_size_logits` uses: a (stacking) data
    preprocessor, ``inference`` and ``align_corners``.
    """

    align_corners = False

    def __init__(self, img_dir):
        super().__init__()
        self.img_dir = img_dir
        self.data_preprocessor = SegDataPreProcessor()
        self.calls = {}
        self.num_passes = 0
        self.modes = []

    def inference(self, inputs, batch_img_metas):
        self.num_passes += 1
        self.modes.append(self.training)
        logits = []
        for img_meta in batch_img_metas:
            name = osp.relpath(img_meta['img_path'], self.img_dir)
            self.calls[name] = self.calls.get(name, 0) + 1
            label, k = LOGIT_TABLE[name]
            logits.append(logits_for(label, torch.tensor(k) / 128))
            assert logits[-1].shape[1:] == img_meta['ori_shape']
        return torch.stack(logits)


class FourClassDataset(BaseSegDataset):
    """Ground truth stored with 4 classes; ``c1`` and ``c2`` are ids 2, 3."""
    METAINFO = dict(classes=('c0', 'x', 'c1', 'c2'))


def write_images(root, shapes):
    """Write random BGR images ``img/<name>.jpg`` of the given (H, W)."""
    rng = np.random.default_rng(0)
    for name, (h, w) in shapes.items():
        path = osp.join(root, 'img', name + '.jpg')
        os.makedirs(osp.dirname(path), exist_ok=True)
        mmcv.imwrite(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), path)


def write_png(array, path):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


def read_png(path):
    return np.asarray(Image.open(path)).tolist()


def make_dataset(root, gt_encoding=None, pipeline=None):
    """The two-image dataset; ``gt_encoding`` None writes no ground truth.

    'plain' writes GT_* as is, 'reduce_zero_label' writes it shifted by one
    (IGNORE as 0), 'label_map' writes it with FourClassDataset's ids (IGNORE
    as the dropped class 'x').
    """
    write_images(root, {'a': (4, 6), osp.join('sub', 'b'): (4, 6)})
    encode = {
        'plain': lambda g: g,
        'reduce_zero_label': lambda g: np.where(g == I, 0, g + 1),
        'label_map': lambda g: np.array([0, 2, 3] + [0] * 252 + [1])[g],
    }
    if gt_encoding is not None:
        for name, gt in (('a', GT_A), (osp.join('sub', 'b'), GT_B)):
            write_png(encode[gt_encoding](np.array(gt)),
                      osp.join(root, 'ann', name + '.png'))
    dataset_type = (
        FourClassDataset if gt_encoding == 'label_map' else BaseSegDataset)
    return dataset_type(
        data_root=str(root),
        data_prefix=dict(img_path='img', seg_map_path='ann'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        metainfo=dict(classes=CLASSES),
        reduce_zero_label=gt_encoding == 'reduce_zero_label',
        pipeline=pipeline
        or [LoadImageFromFile(), PackSegInputs()])


def files_of(dataset, out_dir):
    """Each image's label in ``out_dir``, named as its ground truth is."""
    ann_dir = dataset.data_prefix['seg_map_path']
    return [
        osp.join(
            out_dir,
            osp.relpath(dataset.get_data_info(i)['seg_map_path'], ann_dir))
        for i in range(len(dataset))
    ]


EXPECTED_FILES = sorted(['a.png', osp.join('sub', 'b.png'), 'stats.json'])


def files_under(folder):
    return sorted(
        osp.relpath(osp.join(d, f), folder) for d, _, files in os.walk(folder)
        for f in files)


@pytest.mark.parametrize('gt_encoding',
                         ['plain', 'reduce_zero_label', 'label_map'])
def test_labels_and_stats_by_hand(tmp_path, gt_encoding):
    dataset = make_dataset(tmp_path / 'data', gt_encoding)
    if gt_encoding == 'label_map':
        assert dataset.label_map == {0: 0, 1: 255, 2: 1, 3: 2}
    model = FakeSegmentor(dataset.data_prefix['img_path'])
    model.train()
    out_dir = str(tmp_path / 'round_1')

    stats = PseudoLabeler(num_classes=3).run(model, dataset, out_dir, 0.5,
                                             files_of(dataset, out_dir))

    assert model.calls == {'a.jpg': 1, osp.join('sub', 'b.jpg'): 1}
    assert model.modes == [False, False] and model.training
    assert files_under(out_dir) == EXPECTED_FILES
    assert read_png(osp.join(out_dir, 'a.png')) == P_A
    assert read_png(osp.join(out_dir, 'sub', 'b.png')) == P_B

    assert stats['alpha'] == 0.5 and stats['class_balanced'] is True
    assert stats['num_images'] == 2 and stats['classes'] == list(CLASSES)
    assert stats['thresholds'] == [1 - 11 / 128, 1 - 33 / 128, 1 - 5 / 128]
    assert stats['class_pixels'] == [22, 22, 4]
    assert stats['class_kept_pixels'] == [11, 11, 2]
    assert stats['class_coverage'] == [0.5, 0.5, 0.5]
    assert stats['coverage'] == 0.5
    assert stats['num_gt_images'] == 2
    assert stats['class_iou'] == pytest.approx(CLASS_IOU)
    assert stats['pseudo_miou'] == pytest.approx(sum(CLASS_IOU) / 3)
    assert stats['pseudo_acc'] == pytest.approx(100 * 20 / 23)
    with open(osp.join(out_dir, 'stats.json')) as f:
        assert json.load(f) == stats


def test_global_threshold_alpha_one_and_one_pass_per_run(tmp_path):
    dataset = make_dataset(tmp_path / 'data')
    model = FakeSegmentor(dataset.data_prefix['img_path'])
    model.eval()
    labeler = PseudoLabeler(num_classes=3, class_balanced=False, batch_size=2)

    out_dir = str(tmp_path / 'global')
    stats = labeler.run(model, dataset, out_dir, 0.5,
                        files_of(dataset, out_dir))
    assert model.num_passes == 1  # both images in one batch
    assert read_png(osp.join(out_dir, 'a.png')) == P_A_GLOBAL
    assert read_png(osp.join(out_dir, 'sub', 'b.png')) == P_B_GLOBAL
    assert stats['thresholds'] == [1 - 20 / 128] * 3
    assert stats['class_kept_pixels'] == [20, 0, 4]
    assert stats['class_coverage'] == [20 / 22, 0.0, 1.0]
    assert stats['coverage'] == 0.5
    assert stats['pseudo_miou'] is None and stats['class_iou'] is None
    assert stats['pseudo_acc'] is None and stats['num_gt_images'] == 0

    # a second run (same folder, overwritten) is again one pass per image
    stats = labeler.run(model, dataset, out_dir, 1.0,
                        files_of(dataset, out_dir))
    assert model.calls == {'a.jpg': 2, osp.join('sub', 'b.jpg'): 2}
    assert read_png(osp.join(out_dir, 'a.png')) == L_A
    assert read_png(osp.join(out_dir, 'sub', 'b.png')) == L_B
    assert stats['coverage'] == 1.0 and stats['class_coverage'] == [1.0] * 3
    assert stats['thresholds'] == [1 - 44 / 128] * 3  # least confident
    assert files_under(out_dir) == EXPECTED_FILES
    assert not model.training


def test_each_rank_labels_its_own_shard(tmp_path, monkeypatch):
    """Rank 1 of 2 owns image 1 (sub/b) only and writes no stats.json.

    Outside a process group all_reduce is a no-op, so the thresholds come
    from b alone: class 0 keeps 6 of 12 (u*128 <= 12), class 1 6 of 12
    (<= 34).
    """
    dataset = make_dataset(tmp_path / 'data')
    model = FakeSegmentor(dataset.data_prefix['img_path'])
    monkeypatch.setattr(labeler_module, 'get_dist_info', lambda: (1, 2))
    out_dir = str(tmp_path / 'shard')
    stats = PseudoLabeler(num_classes=3).run(model, dataset, out_dir, 0.5,
                                             files_of(dataset, out_dir))
    assert model.calls == {osp.join('sub', 'b.jpg'): 1}
    assert files_under(out_dir) == [osp.join('sub', 'b.png')]
    assert read_png(osp.join(out_dir, 'sub', 'b.png')) == [[1] * 6, [I] * 6,
                                                           [0] * 6, [I] * 6]
    assert stats['class_pixels'] == [12, 12, 0]
    assert stats['thresholds'][2] is None
    assert stats['class_coverage'][2] is None


@pytest.mark.parametrize('memory_mb', [0, 72 / 2**20, 1024])
def test_scratch_in_memory_on_disk_or_split_gives_the_same_labels(
        tmp_path, monkeypatch, memory_mb):
    """Phase 1's arrays stay in memory up to the budget (an image here: 24
    pixels x 3 bytes = 72 bytes), the rest go to scratch files; the labels
    are the hand-worked ones either way and no scratch file is left."""
    saved = []
    savez = np.savez
    monkeypatch.setattr(
        labeler_module.np, 'savez', lambda path, **arrays:
        (saved.append(osp.basename(path)), savez(path, **arrays)))
    dataset = make_dataset(tmp_path / 'data')
    out_dir = str(tmp_path / 'round')
    PseudoLabeler(
        num_classes=3, scratch_memory_mb=memory_mb).run(
            FakeSegmentor(dataset.data_prefix['img_path']), dataset, out_dir,
            0.5, files_of(dataset, out_dir))
    assert saved == {0: ['0.npz', '1.npz'], 1024: []}.get(memory_mb, ['1.npz'])
    assert read_png(osp.join(out_dir, 'a.png')) == P_A
    assert read_png(osp.join(out_dir, 'sub', 'b.png')) == P_B
    assert files_under(out_dir) == EXPECTED_FILES


def test_stale_scratch_is_removed(tmp_path):
    dataset = make_dataset(tmp_path / 'data')
    out_dir = tmp_path / 'round'
    (out_dir / '.scratch').mkdir(parents=True)
    (out_dir / '.scratch' / '99.npz').write_bytes(b'left by a crash')
    PseudoLabeler(num_classes=3).run(
        FakeSegmentor(dataset.data_prefix['img_path']), dataset, str(out_dir),
        0.5, files_of(dataset, str(out_dir)))
    assert files_under(str(out_dir)) == EXPECTED_FILES


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='num_classes'):
        PseudoLabeler(num_classes=256)
    with pytest.raises(ValueError, match='ignore_index'):
        PseudoLabeler(num_classes=3, ignore_index=2)
    with pytest.raises(ValueError, match='batch_size'):
        PseudoLabeler(num_classes=3, batch_size=0)
    dataset = make_dataset(tmp_path / 'data')
    model = FakeSegmentor(dataset.data_prefix['img_path'])
    with pytest.raises(ValueError, match='alpha'):
        PseudoLabeler(num_classes=3).run(model, dataset, str(tmp_path), 0.0,
                                         files_of(dataset, str(tmp_path)))
    assert model.num_passes == 0
    with pytest.raises(ValueError, match=r'seg_logits of shape \(4, H, W\)'):
        PseudoLabeler(num_classes=4).run(model, dataset, str(tmp_path), 0.5,
                                         files_of(dataset, str(tmp_path)))
    write_png(np.full((4, 6), 7), str(tmp_path / 'data' / 'ann' / 'a.png'))
    with pytest.raises(ValueError, match=r'a\.png has label 7'):
        PseudoLabeler(num_classes=3).run(model, dataset, str(tmp_path), 0.5,
                                         files_of(dataset, str(tmp_path)))


#: Images of two sizes for the real segmentor, (H, W) by name.
SHAPES = {'wide': (20, 30), osp.join('sub', 'odd'): (13, 17)}


def tiny_segmentor(test_cfg=None, size_divisor=None):
    """EncoderDecoder with a tiny ResNet (output stride 8) and 3 classes.

    ``test_cfg`` defaults to whole-image inference; with ``size_divisor``
    the data preprocessor pads test images to multiples of it.
    """
    torch.manual_seed(0)
    model = MODELS.build(
        ConfigDict(
            type='EncoderDecoder',
            _scope_='mmseg',
            data_preprocessor=dict(
                type='SegDataPreProcessor',
                mean=[123.0, 116.0, 103.0],
                std=[58.0, 57.0, 57.0],
                bgr_to_rgb=True,
                test_cfg=None if size_divisor is None else dict(
                    size_divisor=size_divisor)),
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                stem_channels=8,
                base_channels=4,
                strides=(1, 2, 1, 1),
                dilations=(1, 1, 2, 4),
                out_indices=(3, )),  # output stride 8: 4x4 features
            decode_head=dict(
                type='FCNHead',
                in_channels=32,
                channels=8,
                num_convs=1,
                concat_input=False,
                num_classes=3,
                loss_decode=dict(type='CrossEntropyLoss')),
            test_cfg=test_cfg or dict(mode='whole')))
    nn.init.normal_(model.decode_head.conv_seg.weight, std=10.0)
    return model


def image_dataset(root, shapes, transforms=()):
    """Random images of the given (H, W) and no ground truth, loaded with
    ``transforms`` between LoadImageFromFile and PackSegInputs."""
    write_images(root, shapes)
    return BaseSegDataset(
        data_root=str(root),
        data_prefix=dict(img_path='img', seg_map_path='ann'),
        img_suffix='.jpg',
        metainfo=dict(classes=CLASSES),
        pipeline=[LoadImageFromFile(), *transforms,
                  PackSegInputs()])


def reference_logits(model, data):
    """Reference: the former path, the ``seg_logits`` of MMSeg's
    ``test_step`` (``predict``, then ``postprocess_result``)."""
    return [result.seg_logits.data for result in model.test_step(data)]


def ddp_shell(model):
    """An MMDistributedDataParallel holding ``model`` as its ``module``,
    without a process group (only unwrapped, never run)."""
    wrapper = MMDistributedDataParallel.__new__(MMDistributedDataParallel)
    nn.Module.__init__(wrapper)
    wrapper.module = model
    return wrapper


def test_real_segmentor_labels_at_original_size(tmp_path):
    """EncoderDecoder (tiny ResNet) with a fixed 32x32 Resize in the
    pipeline: labels come back at the images' own sizes, and with alpha = 1
    they equal the segmentor's own prediction."""
    dataset = image_dataset(tmp_path, SHAPES,
                            [Resize(scale=(32, 32), keep_ratio=False)])
    model = tiny_segmentor()
    calls = []
    inference = model.inference

    def counting_inference(inputs, batch_img_metas):
        calls.extend(img_meta['img_path'] for img_meta in batch_img_metas)
        return inference(inputs, batch_img_metas)

    model.inference = counting_inference
    out_dir = str(tmp_path / 'labels')
    stats = PseudoLabeler(num_classes=3).run(model, dataset, out_dir, 1.0,
                                             files_of(dataset, out_dir))
    assert len(calls) == 2 and len(set(calls)) == 2
    assert stats['coverage'] == 1.0
    del model.inference
    model.eval()
    predicted_classes = set()
    for idx in range(len(dataset)):
        img_path = dataset.get_data_info(idx)['img_path']
        name = osp.splitext(osp.relpath(img_path, tmp_path / 'img'))[0]
        label = np.asarray(Image.open(osp.join(out_dir, name + '.png')))
        assert label.shape == SHAPES[name]
        with torch.no_grad():
            batch = labeler_module.pseudo_collate([dataset[idx]])
            pred = model.test_step(batch)[0].pred_sem_seg.data[0].numpy()
        assert np.array_equal(label, pred)
        predicted_classes |= set(np.unique(label).tolist())
    assert len(predicted_classes) > 1  # a non-trivial prediction
    assert files_under(out_dir) == sorted([n + '.png'
                                           for n in SHAPES] + ['stats.json'])


SAME_SIZE = {'a': (20, 30), 'b': (20, 30)}
#: Per case: the images, the transforms, the segmentor's options and the
#: (H, W) of the preprocessed batch and the padding (left, right, top,
#: bottom) of its images.
LOGITS_CASES = {
    'same_size': (SAME_SIZE, [], {}, (20, 30), None),
    'infer_scale': (SHAPES, [Resize(scale=(32, 24),
                                    keep_ratio=False)], {}, (24, 32), None),
    'padding': (SAME_SIZE, [], dict(size_divisor=16), (32, 32), (0, 2, 0, 12)),
    'infer_scale_padding': (SHAPES, [Resize(scale=(30, 20), keep_ratio=False)],
                            dict(size_divisor=16), (32, 32), (0, 2, 0, 12)),
    'flip_horizontal':
    (SAME_SIZE, [RandomFlip(prob=1.0,
                            direction='horizontal')], {}, (20, 30), None),
    'flip_vertical':
    (SAME_SIZE, [RandomFlip(prob=1.0,
                            direction='vertical')], {}, (20, 30), None),
    'slide':
    (SAME_SIZE, [],
     dict(test_cfg=dict(mode='slide', crop_size=(16, 16), stride=(12, 12))),
     (20, 30), None),
}


@pytest.mark.parametrize('case', list(LOGITS_CASES))
def test_original_size_logits_equal_test_step_seg_logits(tmp_path, case):
    """The labeler's logits are the ``seg_logits`` MMSeg's ``test_step``
    returns (its argmax aside), also through a DDP wrapper."""
    shapes, transforms, model_options, batch_shape, padding = LOGITS_CASES[
        case]
    dataset = image_dataset(tmp_path, shapes, transforms)
    model = tiny_segmentor(**model_options)
    model.eval()

    def batch():
        return labeler_module.pseudo_collate(
            [dataset[idx] for idx in range(len(dataset))])

    with torch.no_grad():
        preprocessed = model.data_preprocessor(batch(), False)
        expected = reference_logits(model, batch())
        logits = original_size_logits(model, batch())
        wrapped = original_size_logits(ddp_shell(model), batch())
    # the case is what it says: the batch's size, padding and flip
    assert preprocessed['inputs'].shape[2:] == batch_shape
    samples = preprocessed['data_samples']
    assert all(s.metainfo.get('img_padding_size') == padding for s in samples)
    assert all(
        s.metainfo.get('flip', False) == case.startswith('flip')
        for s in samples)
    assert len(logits) == len(wrapped) == len(expected) == len(dataset)
    for idx, (got, got_wrapped,
              want) in enumerate(zip(logits, wrapped, expected)):
        assert got.shape == (3, *samples[idx].ori_shape)
        assert torch.allclose(got, want) and torch.allclose(got_wrapped, want)


def resized_hand_dataset(root):
    """The two-image dataset with ground truth, resized to 32x32 to label."""
    return make_dataset(root, 'plain', [
        LoadImageFromFile(),
        Resize(scale=(32, 32), keep_ratio=False),
        PackSegInputs()
    ])


#: Per case: the dataset (made under a folder), the segmentor's options,
#: the labeler's options and alpha.
LABELER_CASES = {
    'gt_resized': (resized_hand_dataset, {}, {}, 0.5),
    'gt_resized_global_confidence_batch2':
    (resized_hand_dataset, {},
     dict(class_balanced=False, store_confidence=True, batch_size=2), 0.3),
    'two_sizes_resized': (lambda root: image_dataset(
        root, SHAPES, [Resize(scale=(32, 32), keep_ratio=False)]), {},
                          dict(batch_size=2), 0.5),
    'two_sizes_padded':
    (lambda root: image_dataset(root, SHAPES), dict(size_divisor=16), {}, 0.4),
}


@pytest.mark.parametrize('case', list(LABELER_CASES))
def test_labels_and_stats_byte_identical_to_test_step_path(
        tmp_path, monkeypatch, case):
    """The PNGs and stats.json are byte for byte those written when the
    logits came from ``model.test_step`` (the former path)."""
    make, model_options, labeler_options, alpha = LABELER_CASES[case]
    dataset = make(tmp_path / 'data')
    model = tiny_segmentor(**model_options)
    labeler = PseudoLabeler(num_classes=3, **labeler_options)
    new_dir, old_dir = tmp_path / 'new', tmp_path / 'old'
    stats = labeler.run(model, dataset, str(new_dir), alpha,
                        files_of(dataset, str(new_dir)))
    monkeypatch.setattr(labeler_module, 'original_size_logits',
                        reference_logits)
    assert labeler.run(model, dataset, str(old_dir), alpha,
                       files_of(dataset, str(old_dir))) == stats
    assert 0 < stats['coverage'] < 1
    files = files_under(str(new_dir))
    assert files == files_under(str(old_dir))
    assert len(
        files) == 1 + len(dataset) * (2 if labeler.store_confidence else 1)
    for name in files:
        assert (new_dir / name).read_bytes() == (old_dir / name).read_bytes()


def test_batches_close_where_the_image_size_changes():
    """MMSeg stacks test images only of one size: batches split there."""
    import torch as _torch

    class Sizes:
        sizes = [(4, 6), (4, 6), (4, 6), (5, 6), (5, 6), (4, 6)]

        def prepare_data(self, idx):
            h, w = self.sizes[idx]
            return dict(inputs=_torch.zeros(3, h, w), idx=idx)

    labeler = PseudoLabeler(num_classes=3, batch_size=2)
    batches = [chunk for chunk, _ in labeler._batches(Sizes(), list(range(6)))]
    # sizes: A A A B B A -> [0, 1] full, [2] closed by B, [3, 4], [5]
    assert batches == [[0, 1], [2], [3, 4], [5]]


def test_stored_confidence_round_trips(tmp_path):
    """store_confidence writes ``<label>.conf.png`` next to each label: the
    max softmax ``1 - K / 128`` of every pixel (IGNORE ones included) as
    ``q = round(65535 * p)``. ``65535 * (128 - K) / 128 = 512 * (128 - K) -
    1 + K / 128`` and K <= 44, so ``q = 512 * (128 - K) - 1``; read back,
    ``q / 65535`` is within 0.5 / 65535 of p. The labels are unchanged."""
    dataset = make_dataset(tmp_path / 'data', 'plain')
    model = FakeSegmentor(dataset.data_prefix['img_path'])
    out_dir = str(tmp_path / 'round_1')
    stats = PseudoLabeler(
        num_classes=3, store_confidence=True).run(model, dataset, out_dir, 0.5,
                                                  files_of(dataset, out_dir))

    assert model.num_passes == 2  # still one pass per image
    assert files_under(out_dir) == sorted(
        EXPECTED_FILES +
        ['a.conf.png', osp.join('sub', 'b.conf.png')])
    assert read_png(osp.join(out_dir, 'a.png')) == P_A
    assert read_png(osp.join(out_dir, 'sub', 'b.png')) == P_B
    assert stats['store_confidence'] is True
    assert stats['class_kept_pixels'] == [11, 11, 2]
    for name, k in (('a', K_A), (osp.join('sub', 'b'), K_B)):
        label_file = osp.join(out_dir, name + '.png')
        conf_file = label_folder.confidence_file(label_file)
        assert conf_file == osp.join(out_dir, name + '.conf.png')
        image = Image.open(conf_file)
        stored = np.asarray(image)
        assert image.mode == 'I;16' and stored.dtype == np.uint16
        k = np.array(k)
        assert stored.tolist() == (512 * (128 - k) - 1).tolist()
        decoded = label_folder.decode_confidence(stored)
        assert decoded.dtype == np.float32
        np.testing.assert_allclose(
            decoded, 1 - k / 128, rtol=0, atol=0.5 / 65535 + 1e-7)
    with open(osp.join(out_dir, 'stats.json')) as f:
        assert json.load(f) == stats


def test_confidence_encoding_by_hand():
    encoded = label_folder.encode_confidence(
        torch.tensor([0.0, 1.0, 0.5, 1 / 3, 0.9999999, 2e-6]))
    # 65535 * 0.5 = 32767.5 rounds to even, 65535 / 3 = 21845,
    # 65535 * 2e-6 = 0.13.
    assert encoded.dtype == np.uint16
    assert encoded.tolist() == [0, 65535, 32768, 21845, 65535, 0]
    assert label_folder.decode_confidence(
        np.array([0, 65535, 21845],
                 np.uint16)).tolist() == [0.0, 1.0,
                                          np.float32(1 / 3)]
    with pytest.raises(TypeError, match='uint16'):
        label_folder.decode_confidence(np.zeros(2, np.uint8))


def test_ground_truth_of_another_size_is_resized_only_when_asked(tmp_path):
    """Labels stored at a labeling size: ground truth at twice that size,
    resized nearest, gives the statistics of ground truth at that size."""
    dataset = make_dataset(tmp_path / 'data', 'plain')
    for name, gt in (('a', GT_A), (osp.join('sub', 'b'), GT_B)):
        write_png(
            np.kron(np.array(gt), np.ones((2, 2), int)),
            str(tmp_path / 'data' / 'ann' / (name + '.png')))
    model = FakeSegmentor(dataset.data_prefix['img_path'])
    out_dir = str(tmp_path / 'round_1')
    stats = PseudoLabeler(
        num_classes=3, resize_gt=True).run(model, dataset, out_dir, 0.5,
                                           files_of(dataset, out_dir))
    assert read_png(osp.join(out_dir, 'a.png')) == P_A
    assert stats['num_gt_images'] == 2
    assert stats['class_iou'] == pytest.approx(CLASS_IOU)
    assert stats['pseudo_acc'] == pytest.approx(100 * 20 / 23)
    with pytest.raises(
            ValueError,
            match=r'has shape \(8, 12\), but the '
            r'pseudo label has shape \(4, 6\)'):
        PseudoLabeler(num_classes=3).run(model, dataset, out_dir, 0.5,
                                         files_of(dataset, out_dir))
