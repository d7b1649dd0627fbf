"""The synthetic textured-shapes dataset the synthetic configs train on.

Five classes (background, then four object classes told apart by colour
family and texture, never by shape) in MMSeg's folder layout, which
``tools/make_synthetic_data.py`` generates; its module doc describes the
images and their difficulty.
"""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

SYNTHETIC_CLASSES = ('background', 'smooth', 'striped', 'checkered',
                     'speckled')
SYNTHETIC_PALETTE = [[0, 0, 0], [220, 20, 60], [255, 170, 0], [30, 144, 255],
                     [50, 205, 50]]


@DATASETS.register_module()
class SyntheticShapesDataset(BaseSegDataset):
    """Generated textured-shapes dataset (5 classes, see the module doc).

    The folder layout is MMSeg's: ``img_dir/{train,val}/<name>.png`` (RGB)
    and ``ann_dir/{train,val}/<name>.png`` (class ids, 255 = ignore), with
    ``train.txt`` and ``val.txt`` listing the names; write it with
    ``tools/make_synthetic_data.py``.

    Args:
        img_suffix (str): Image file suffix. Defaults to '.png'.
        seg_map_suffix (str): Label file suffix. Defaults to '.png'.
        reduce_zero_label (bool): Whether to ignore label 0. Defaults to
            False (0 is the background class).
        **kwargs: Other arguments of :class:`BaseSegDataset`.
    """
    METAINFO = dict(classes=SYNTHETIC_CLASSES, palette=SYNTHETIC_PALETTE)

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)
