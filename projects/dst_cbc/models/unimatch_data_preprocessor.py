"""The data preprocessor of UniMatch: the unlabeled crops' strong views,
ignore masks and CutMix boxes, next to MMSeg's normalised, padded batch."""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmseg.models import SegDataPreProcessor
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from ..datasets.strong_views import VIEWS_KEY
from .pseudo_cutmix import Box

#: Data sample fields the preprocessor adds to every unlabeled sample.
IGNORE_KEY = 'ignore_mask'
BOXES_KEY = 'cutmix_boxes'
#: Ignore mask value of a pixel that is padding, not the image's.
IGNORE = 255


def _uniform(low: float, high: float) -> float:
    """A number uniform in [low, high) from torch's global generator."""
    return low + (high - low) * torch.rand(()).item()


def _randint(high: int) -> int:
    """An integer uniform in [0, high) from torch's global generator."""
    return int(torch.randint(high, ()).item())


@MODELS.register_module()
class UniMatchDataPreProcessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` that also prepares the unlabeled samples.

    In training, after ``SegDataPreProcessor`` has normalised and padded the
    batch (the labeled crops and the unlabeled crops' weak views, as
    ``inputs``), every sample with ``strong_views`` (packed by
    :class:`~dst_cbc.datasets.PackSegInputsWithViews`) gets, on the padded
    canvas:

    - ``strong_views``: float (2, 3, H, W), channel-converted and normalised
      as ``inputs`` and padded as its weak view (``pad_val``);
    - ``ignore_mask``: uint8 (H, W), 255 on the padding the batch added
      (right and bottom, ``padding_size``), 0 on the crop;
    - ``cutmix_boxes``: bool (2, H, W), each strong view's CutMix box, drawn
      with probability ``cutmix_prob`` as the UniMatch authors'
      ``obtain_cutmix_box`` on the padded canvas (the authors' crops are
      padded before the box is drawn): area uniform in ``cutmix_area``
      times the canvas, height / width uniform in ``cutmix_aspect``, a top
      left corner uniform on the canvas, redrawn (aspect and corner) until
      the box fits. All False when no box is drawn.

    The random numbers come from torch's global generator. Validation and
    testing (``training=False``) are ``SegDataPreProcessor``'s.

    Args:
        cutmix_prob (float): Probability that a strong view gets a box.
            Defaults to 0.5.
        cutmix_area (Sequence[float]): Range of a box's area over the
            canvas's. Defaults to (0.02, 0.4).
        cutmix_aspect (Sequence[float]): Range of a box's height / width.
            Defaults to (0.3, 1 / 0.3).
        **kwargs: Arguments of ``SegDataPreProcessor``.
    """

    def __init__(self,
                 cutmix_prob: float = 0.5,
                 cutmix_area: Sequence[float] = (0.02, 0.4),
                 cutmix_aspect: Sequence[float] = (0.3, 1 / 0.3),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 <= cutmix_prob <= 1:
            raise ValueError('UniMatchDataPreProcessor: `cutmix_prob` must '
                             f'be in [0, 1], got {cutmix_prob}')
        area_low, area_high = cutmix_area
        aspect_low, aspect_high = cutmix_aspect
        if not (0 < area_low <= area_high <= 1
                and 0 < aspect_low <= aspect_high):
            raise ValueError(
                'UniMatchDataPreProcessor: `cutmix_area` must lie in (0, 1] '
                'and `cutmix_aspect` be positive, low <= high; got '
                f'{cutmix_area}, {cutmix_aspect}')
        self.cutmix_prob = cutmix_prob
        self.cutmix_area = (float(area_low), float(area_high))
        self.cutmix_aspect = (float(aspect_low), float(aspect_high))

    def sample_box(self, canvas: Sequence[int]) -> Optional[Box]:
        """Draw a strong view's CutMix box, or none.

        Args:
            canvas (Sequence[int]): ``(H, W)`` of the padded batch.

        Returns:
            Box | None: The box (possibly empty when the canvas is tiny),
            or None with probability ``1 - cutmix_prob``.
        """
        if torch.rand(()).item() >= self.cutmix_prob:
            return None
        height, width = canvas
        area = _uniform(*self.cutmix_area) * height * width
        while True:
            aspect = _uniform(*self.cutmix_aspect)
            box_w = int(math.sqrt(area / aspect))
            box_h = int(math.sqrt(area * aspect))
            left, top = _randint(width), _randint(height)
            if left + box_w <= width and top + box_h <= height:
                return Box(top, left, box_h, box_w)

    def box_masks(self, canvas: Sequence[int], num: int,
                  device: torch.device) -> Tensor:
        """Draw ``num`` boxes as masks.

        Args:
            canvas (Sequence[int]): ``(H, W)`` of the padded batch.
            num (int): Number of strong views.
            device (torch.device): Device of the masks.

        Returns:
            Tensor: bool (num, H, W), True inside each view's box.
        """
        masks = torch.zeros((num, *canvas), dtype=torch.bool, device=device)
        for mask in masks:
            box = self.sample_box(canvas)
            if box is not None:
                mask[box.top:box.top + box.height,
                     box.left:box.left + box.width] = True
        return masks

    def normalize_views(self, views: Tensor) -> Tensor:
        """Convert and normalise views as ``SegDataPreProcessor`` does its
        inputs.

        Args:
            views (Tensor): uint8 (V, 3, h, w).

        Returns:
            Tensor: float (V, 3, h, w).
        """
        if self.channel_conversion:
            views = views[:, [2, 1, 0]]
        views = views.float()
        if self._enable_normalize:
            views = (views - self.mean) / self.std
        return views

    def prepare_unlabeled(self, sample, canvas: Tuple[int, int]) -> None:
        """Pad a sample's strong views, add its ignore mask and boxes.

        Args:
            sample (SegDataSample): A sample with ``strong_views`` and the
                ``img_shape`` and ``padding_size`` that ``stack_batch`` set.
            canvas (tuple[int, int]): ``(H, W)`` of the padded batch.
        """
        views = sample.get(VIEWS_KEY)
        if tuple(views.shape[-2:]) != tuple(sample.img_shape):
            raise ValueError('UniMatchDataPreProcessor: the strong views of '
                             f'{sample.metainfo.get("img_path")} are '
                             f'{tuple(views.shape[-2:])}, its weak view '
                             f'{tuple(sample.img_shape)}')
        padding = sample.padding_size
        valid = views.new_zeros(views.shape[-2:], dtype=torch.uint8)
        sample.set_data({
            VIEWS_KEY:
            F.pad(self.normalize_views(views), padding, value=self.pad_val),
            IGNORE_KEY:
            F.pad(valid, padding, value=IGNORE),
            BOXES_KEY:
            self.box_masks(canvas, views.shape[0], views.device)
        })

    def forward(self, data: dict, training: bool = False) -> dict:
        """``SegDataPreProcessor.forward``, then, in training, the unlabeled
        samples' views, ignore masks and boxes.

        Args:
            data (dict): Data sampled from the dataloader.
            training (bool): Whether in training.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        data = super().forward(data, training)
        if training:
            samples: SampleList = data['data_samples']
            canvas = tuple(data['inputs'].shape[-2:])
            for sample in samples:
                if VIEWS_KEY in sample:
                    self.prepare_unlabeled(sample, canvas)
        return data
