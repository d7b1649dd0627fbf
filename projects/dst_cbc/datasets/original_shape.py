"""Make a sample's current size its original size.

MMSeg returns a prediction at the sample's ``ori_shape``, the size of the
image as loaded: the segmentor upsamples its logits to it, the evaluator
compares them there with the label and the pseudo-labeler stores its labels
at that size. The authors of DST-CBC evaluated and labeled at a size of
their pipeline instead: VOC val images zero-padded to 505x505 (against
padded labels), Cityscapes val images and labels resized to 513x1025, and
unlabeled images resized to 321x321 (VOC) or 257x513 (Cityscapes) with the
pseudo labels stored at that size. :class:`ResetOriginalShape`, placed after
the transforms that give that size, makes it the sample's original size.
"""
from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ResetOriginalShape(BaseTransform):
    """Set ``ori_shape`` to the image's current shape.

    Put it after the transforms that resize or pad a test or labeling
    sample: predictions, evaluation and stored pseudo labels are then at
    the image's size at this point of the pipeline. Any label loaded before
    must have been moved with the image (same shape), else the evaluation
    would compare different pixels.

    Required Keys:

    - img
    - ori_shape
    - gt_seg_map (optional)

    Modified Keys:

    - ori_shape
    """

    def transform(self, results: dict) -> dict:
        """Make the current image shape the original one.

        Args:
            results (dict): The pipeline's results.

        Returns:
            dict: ``results`` with ``ori_shape`` set to the image's
            ``(height, width)``.

        Raises:
            ValueError: A loaded label has another shape than the image.
        """
        shape = tuple(results['img'].shape[:2])
        label = results.get('gt_seg_map')
        if label is not None and tuple(label.shape[:2]) != shape:
            raise ValueError(
                f'ResetOriginalShape: the label of {results.get("img_path")} '
                f'has shape {tuple(label.shape[:2])} but the image {shape}; '
                'resize or pad both before this transform')
        results['ori_shape'] = shape
        return results
