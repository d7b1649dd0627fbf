"""CamVid (SegNet version): 11 classes, the void label ignored."""
import os.path as osp
from typing import Dict, Optional, Sequence

from mmengine.config import Config

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

CAMVID_VOID_LABEL = 11
#: An extra test set in the CamVid layout: its list, images and labels.
TEST_LIST, TEST_IMAGES, TEST_LABELS = 'test.txt', 'test', 'testannot'


@DATASETS.register_module()
class CamVidDataset(BaseSegDataset):
    """CamVid as distributed with SegNet (360x480, 367 train, 101 val).

    Layout: ``train/``, ``trainannot/``, ``val/``, ``valannot/`` (PNG
    images and label maps of the same name) and ``train.txt``, ``val.txt``
    (names without suffix). Labels 0..10 are the classes below; label 11
    (void) becomes the ignore index 255 when annotations load: the dataset's
    ``label_map`` always maps 11 to 255, and ``LoadAnnotations`` applies it.

    Args:
        img_suffix (str): Image file suffix. Defaults to '.png'.
        seg_map_suffix (str): Label file suffix. Defaults to '.png'.
        reduce_zero_label (bool): Whether to ignore label 0. Defaults to
            False (0 is Sky).
        **kwargs: Other arguments of :class:`BaseSegDataset`.
    """
    METAINFO = dict(
        classes=('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree',
                 'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist'),
        palette=[[128, 128, 128], [128, 0, 0], [192, 192, 128], [128, 64, 128],
                 [60, 40, 222], [128, 128, 0], [192, 128, 128], [64, 64, 128],
                 [64, 0, 128], [64, 64, 0], [0, 128, 192]])

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

    @classmethod
    def get_label_map(cls,
                      new_classes: Optional[Sequence] = None
                      ) -> Dict[int, int]:
        """Map stored labels to training labels: void (11) to 255.

        On top of :meth:`BaseSegDataset.get_label_map` (which remaps the
        classes when a subset is selected in ``metainfo``), the void label
        is always mapped to 255, so the map is never None.

        Args:
            new_classes (Sequence, optional): Class names selected in
                ``metainfo``. Defaults to None (all classes).

        Returns:
            dict[int, int]: Old label id -> new label id.
        """
        label_map = super().get_label_map(new_classes) or {}
        label_map[CAMVID_VOID_LABEL] = 255
        return label_map


def use_test_root(cfg: Config, test_root: str) -> None:
    """Point a config's test set at a folder in the CamVid layout.

    ``test_root/test.txt`` lists the names (without suffix), the images are
    in ``test_root/test`` and their labels in ``test_root/testannot``; the
    config's test pipeline and evaluator are kept, so the same checkpoint
    scores on a set the benchmark never saw.

    Args:
        cfg (Config): The run config, changed in place.
        test_root (str): Folder with ``test.txt``, ``test/`` and
            ``testannot/``.

    Raises:
        FileNotFoundError: Naming the first missing part of the layout.
    """
    for part in (TEST_LIST, TEST_IMAGES, TEST_LABELS):
        if not osp.exists(osp.join(test_root, part)):
            raise FileNotFoundError(
                f'--test-root {test_root}: {part} is missing (expected the '
                f'CamVid layout: {TEST_LIST}, {TEST_IMAGES}/, {TEST_LABELS}/)')
    dataset = cfg.test_dataloader.dataset
    dataset.data_root = osp.abspath(test_root)
    dataset.data_prefix = dict(img_path=TEST_IMAGES, seg_map_path=TEST_LABELS)
    dataset.ann_file = TEST_LIST
