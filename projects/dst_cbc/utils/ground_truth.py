"""Ground truth of one image, loaded as MMSeg's evaluation loads it."""
import os.path as osp
from typing import Optional

import numpy as np

from mmseg.datasets.transforms import LoadAnnotations


def load_ground_truth(data_info: dict,
                      reduce_zero_label: bool = False) -> Optional[np.ndarray]:
    """An image's ground truth as ``LoadAnnotations`` gives it, or None.

    Args:
        data_info (dict): The dataset's data info of the image
            (``seg_map_path``, and ``reduce_zero_label`` / ``label_map``
            where the dataset sets them).
        reduce_zero_label (bool): Used when the data info does not say.
            Pass the dataset's ``reduce_zero_label``. Defaults to False.

    Returns:
        np.ndarray | None: (H, W) uint8 class ids (``label_map`` and
        ``reduce_zero_label`` applied), or None when the image has no
        ground-truth file.
    """
    path = data_info.get('seg_map_path')
    if not path or not osp.isfile(path):
        return None
    results = LoadAnnotations()(
        dict(
            seg_map_path=path,
            reduce_zero_label=data_info.get('reduce_zero_label',
                                            reduce_zero_label),
            label_map=data_info.get('label_map'),
            seg_fields=[]))
    return results['gt_seg_map']
