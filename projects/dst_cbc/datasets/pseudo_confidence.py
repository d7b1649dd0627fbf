"""Carry the labeling model's stored confidence through the train pipeline.

For the OW ablation the pseudo-labeled pixels are weighted by the confidence
the labeling model had in them, stored next to every pseudo label by
``PseudoLabelHook(store_confidence=True)``. :class:`LoadPseudoConfidence`
reads that map into ``results['pseudo_confidence']`` and lists it in
``results['seg_fields']``, so MMSeg's ``Resize`` / ``RandomResize``
(nearest neighbour), ``RandomCrop`` (the label's crop box) and
``RandomFlip`` move it exactly as they move the label.
:class:`PackSegInputsWithConfidence` then packs it as the data sample's
``pseudo_confidence`` (a ``PixelData`` of shape (1, H, W)), which
:class:`~dst_cbc.models.DynamicLossHead` hands to the loss. Crop padding
added later by the data preprocessor is labeled IGNORE, so the head pads the
map with zeros there (:func:`~dst_cbc.models.pseudo_confidence_of`).
"""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform, to_tensor
from mmengine.structures import PixelData

from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS
from ..pseudo_labels import read_confidence

#: Key of the confidence map in the pipeline's results and field name of
#: the packed data sample.
CONFIDENCE_KEY = 'pseudo_confidence'


@TRANSFORMS.register_module()
class LoadPseudoConfidence(BaseTransform):
    """Load the stored confidence map of a pseudo label as a seg field.

    Put it right after ``LoadAnnotations`` in the pipeline of the unlabeled
    (pseudo-labeled) images, and replace that pipeline's ``PackSegInputs``
    by :class:`PackSegInputsWithConfidence`.

    Required Keys:

    - seg_map_path (the pseudo label)
    - gt_seg_map

    Added Keys:

    - pseudo_confidence (np.float32, (H, W), in [0, 1])

    Modified Keys:

    - seg_fields (``'pseudo_confidence'`` appended)

    Args:
        backend_args (dict, optional): File backend arguments, as for
            ``LoadAnnotations``. Defaults to None.
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        """Read the confidence map of ``results['seg_map_path']``.

        Args:
            results (dict): The pipeline's results after ``LoadAnnotations``.

        Returns:
            dict: ``results`` with ``pseudo_confidence`` added.
        """
        path = results['seg_map_path']
        confidence = read_confidence(path, self.backend_args)
        label_shape = results['gt_seg_map'].shape
        if confidence.shape != label_shape:
            raise ValueError(
                f'LoadPseudoConfidence: the confidence map of {path} must '
                f'be a 16-bit map shaped like the label {label_shape}, got '
                f'{confidence.shape}')
        results[CONFIDENCE_KEY] = confidence
        results['seg_fields'].append(CONFIDENCE_KEY)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'backend_args={self.backend_args})')


@TRANSFORMS.register_module()
class PackSegInputsWithConfidence(PackSegInputs):
    """``PackSegInputs`` that also packs ``results['pseudo_confidence']``.

    The data sample gets a ``pseudo_confidence`` field, a ``PixelData``
    holding a float32 tensor of shape (1, H, W), like ``gt_sem_seg``.
    Arguments are those of ``PackSegInputs``.
    """

    def transform(self, results: dict) -> dict:
        """Pack the inputs, the label and the confidence map.

        Args:
            results (dict): The pipeline's results, with
                ``pseudo_confidence`` from :class:`LoadPseudoConfidence`.

        Returns:
            dict: ``inputs`` and ``data_samples`` as ``PackSegInputs``
            gives them, the sample with ``pseudo_confidence`` set.
        """
        if CONFIDENCE_KEY not in results:
            raise KeyError(
                'PackSegInputsWithConfidence: no pseudo_confidence in the '
                'results; put LoadPseudoConfidence after LoadAnnotations')
        shape = results[CONFIDENCE_KEY].shape
        label_shape = results['gt_seg_map'].shape
        if shape != label_shape:
            raise ValueError(
                'PackSegInputsWithConfidence: pseudo_confidence has shape '
                f'{shape} but the label {label_shape}: a transform moved the '
                'label but not the other seg_fields')
        packed = super().transform(results)
        confidence = np.ascontiguousarray(
            results[CONFIDENCE_KEY][None], dtype=np.float32)
        packed['data_samples'].set_data(
            {CONFIDENCE_KEY: PixelData(data=to_tensor(confidence))})
        return packed
