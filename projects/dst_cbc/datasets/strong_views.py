"""The strong views of an unlabeled crop, for UniMatch.

An unlabeled pipeline of UniMatch ends with the weak view's transforms
(resize, crop, flip: ``results['img']`` is the weak view), then
:class:`StrongViews`, which draws two strong views of that crop's pixels,
each on its own (colour jitter, grayscale, Gaussian blur, as the UniMatch
authors' ``dataset/semi.py``), and :class:`PackSegInputsWithViews`, which
packs the weak view as ``inputs`` and the strong views as the data sample's
``strong_views``. Both views keep the crop's geometry, so a prediction on
the weak view labels every strong view pixel for pixel. CutMix boxes and the
ignore mask of the crop padding are made after batching, by
:class:`~dst_cbc.models.UniMatchDataPreProcessor`.
"""
from typing import List, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform, to_tensor
from PIL import Image, ImageFilter
from torchvision import transforms as T

from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

#: Key of the strong views in the pipeline's results and field name of the
#: packed data sample.
VIEWS_KEY = 'strong_views'
#: Strong views per unlabeled crop.
NUM_VIEWS = 2
#: The authors' colour jitter: brightness, contrast, saturation, hue.
JITTER = (0.5, 0.5, 0.5, 0.25)
#: The authors' range of the blur's standard deviation.
BLUR_SIGMA = (0.1, 2.0)


@TRANSFORMS.register_module()
class StrongViews(BaseTransform):
    """Two strong views of the weak view's pixels.

    Each view, independently: colour jitter (torchvision's ``ColorJitter``
    with ``jitter`` = brightness, contrast, saturation, hue) with probability
    ``jitter_prob``, then grayscale with probability ``grayscale_prob``,
    then a Gaussian blur of standard deviation uniform in ``blur_sigma``
    (PIL's ``GaussianBlur``) with probability ``blur_prob``; the defaults
    are the UniMatch authors'. The gates and the blur's sigma are drawn from
    numpy's global generator (as MMSeg's transforms), the jitter's factors
    and order from torch's.

    Required Keys:

    - img (np.uint8, (H, W, 3), BGR: the weak view)

    Added Keys:

    - strong_views (list of two np.uint8 (H, W, 3) BGR images)

    Args:
        jitter (Sequence[float]): Brightness, contrast, saturation and hue
            of the colour jitter. Defaults to (0.5, 0.5, 0.5, 0.25).
        jitter_prob (float): Probability of the colour jitter. Defaults to
            0.8.
        grayscale_prob (float): Probability of grayscale. Defaults to 0.2.
        blur_prob (float): Probability of the blur. Defaults to 0.5.
        blur_sigma (Sequence[float]): Range of the blur's standard
            deviation. Defaults to (0.1, 2.0).
    """

    def __init__(self,
                 jitter: Sequence[float] = JITTER,
                 jitter_prob: float = 0.8,
                 grayscale_prob: float = 0.2,
                 blur_prob: float = 0.5,
                 blur_sigma: Sequence[float] = BLUR_SIGMA) -> None:
        probs = dict(
            jitter_prob=jitter_prob,
            grayscale_prob=grayscale_prob,
            blur_prob=blur_prob)
        for name, prob in probs.items():
            if not 0 <= prob <= 1:
                raise ValueError(f'StrongViews: `{name}` must be in [0, 1], '
                                 f'got {prob}')
        low, high = blur_sigma
        if not 0 < low <= high:
            raise ValueError('StrongViews: `blur_sigma` must satisfy '
                             f'0 < low <= high, got {blur_sigma}')
        self.color_jitter = T.ColorJitter(*jitter)
        self.jitter_prob = jitter_prob
        self.grayscale_prob = grayscale_prob
        self.blur_prob = blur_prob
        self.blur_sigma = (float(low), float(high))

    def jitter(self, image: Image.Image) -> Image.Image:
        """Colour-jitter an RGB image."""
        return self.color_jitter(image)

    @staticmethod
    def grayscale(image: Image.Image) -> Image.Image:
        """An RGB image's gray levels in three channels."""
        return image.convert('L').convert('RGB')

    def blur(self, image: Image.Image) -> Image.Image:
        """Blur an RGB image with a Gaussian of random standard deviation."""
        sigma = np.random.uniform(*self.blur_sigma)
        return image.filter(ImageFilter.GaussianBlur(radius=sigma))

    def strong_view(self, weak: np.ndarray) -> np.ndarray:
        """Draw one strong view.

        Args:
            weak (np.ndarray): The weak view, uint8 (H, W, 3), BGR.

        Returns:
            np.ndarray: The strong view, uint8 (H, W, 3), BGR.
        """
        image = Image.fromarray(np.ascontiguousarray(weak[..., ::-1]))
        if np.random.rand() < self.jitter_prob:
            image = self.jitter(image)
        if np.random.rand() < self.grayscale_prob:
            image = self.grayscale(image)
        if np.random.rand() < self.blur_prob:
            image = self.blur(image)
        return np.ascontiguousarray(np.asarray(image)[..., ::-1])

    def transform(self, results: dict) -> dict:
        """Add the strong views of ``results['img']``.

        Args:
            results (dict): The weak view's results.

        Returns:
            dict: ``results`` with ``strong_views``.
        """
        weak = results['img']
        if weak.ndim != 3 or weak.shape[2] != 3 or weak.dtype != np.uint8:
            raise ValueError('StrongViews: `img` must be a uint8 (H, W, 3) '
                             f'image, got {weak.dtype} {weak.shape}')
        results[VIEWS_KEY] = [self.strong_view(weak) for _ in range(NUM_VIEWS)]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(jitter={self.color_jitter}, '
                f'jitter_prob={self.jitter_prob}, '
                f'grayscale_prob={self.grayscale_prob}, '
                f'blur_prob={self.blur_prob}, blur_sigma={self.blur_sigma})')


def _chw(images: List[np.ndarray]) -> torch.Tensor:
    """(H, W, 3) uint8 images as one (N, 3, H, W) tensor."""
    return to_tensor(
        np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2)))


@TRANSFORMS.register_module()
class PackSegInputsWithViews(PackSegInputs):
    """``PackSegInputs`` that also packs the strong views.

    Ends the unlabeled pipeline of UniMatch, after :class:`StrongViews`:
    the weak view is packed as ``inputs`` (as ``PackSegInputs`` does), the
    strong views as the data sample's ``strong_views``, a uint8 tensor of
    shape (2, 3, H, W) in the image's channel order. The pipeline needs no
    ground truth: an unlabeled sample has no ``gt_sem_seg``. Arguments are
    those of ``PackSegInputs``.
    """

    def transform(self, results: dict) -> dict:
        """Pack the weak view, the strong views and the meta information.

        Args:
            results (dict): The pipeline's results, with ``strong_views``.

        Returns:
            dict: ``inputs`` (the weak view) and ``data_samples``.
        """
        if VIEWS_KEY not in results:
            raise KeyError('PackSegInputsWithViews: no `strong_views` in the '
                           'results; put StrongViews before it')
        packed = super().transform(results)
        packed['data_samples'].set_data({VIEWS_KEY: _chw(results[VIEWS_KEY])})
        return packed
