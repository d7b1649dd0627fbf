"""Every batch: a fixed number of labeled and pseudo-labeled images; an epoch
is one pass over the unlabeled set while the labeled set is cycled."""
import itertools
import math
from typing import Iterator, List, Optional, Sequence

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import DataLoader, Sampler

from mmseg.registry import DATA_SAMPLERS
from .semi_dataset import SemiSegDataset


def batches_per_epoch(num_images: int,
                      images_per_batch: int,
                      world_size: int = 1) -> int:
    """Batches each rank yields in one pass over ``num_images`` images.

    Args:
        num_images (int): Images of the pass (the unlabeled set in a
            self-training round, the labeled set in round 0).
        images_per_batch (int): Images of that set in each batch on a rank.
        world_size (int): Number of processes. Defaults to 1.

    Returns:
        int: ``ceil(num_images / (world_size * images_per_batch))``.
    """
    return math.ceil(num_images / (world_size * images_per_batch))


@DATA_SAMPLERS.register_module()
class MixedBatchSampler(Sampler):
    """Sampler of batches with a fixed labeled / pseudo-labeled split.

    Like MMDetection's ``MultiSourceSampler``, it yields one flat stream of
    indices of a :class:`SemiSegDataset` in which every consecutive chunk of
    ``batch_size`` indices is one batch, so the data loader's own
    ``batch_size`` must equal this one (``len(self)`` is a multiple of it).

    - Without readable unlabeled images (round 0: no pseudo labels yet,
      see :attr:`SemiSegDataset.unlabeled_readable`), or with
      ``num_pseudo=0``, a batch is
      ``batch_size`` labeled indices and an epoch is one pass over the
      labeled set, padded by wrapping around so that every rank gets
      ``num_batches`` full batches.
    - Otherwise a batch is ``batch_size - num_pseudo`` labeled indices
      followed by ``num_pseudo`` unlabeled ones. An epoch is one pass over
      the unlabeled set (a permutation, padded by wrapping around to a
      multiple of ``world_size * num_pseudo``); the labeled set is cycled as
      a stream of fresh permutations. Both streams are split between ranks
      by taking every ``world_size``-th index from ``rank`` on, so ranks
      never share an unlabeled index except for the padding.

    The order depends only on ``(seed, epoch, rank, world_size)``.

    Args:
        dataset (SemiSegDataset): The dataset to sample from (anything with
            ``num_labeled``, ``num_unlabeled`` and ``unlabeled_readable``).
        batch_size (int): Images per batch on each rank.
        num_pseudo (int, optional): Pseudo-labeled (unlabeled) images per
            batch; it may exceed the labeled ones (UniMatch: ``batch_size=
            3 * B, num_pseudo=2 * B``). Defaults to ``batch_size // 2``.
        shuffle (bool): Whether to shuffle; if False both streams are in
            index order. Defaults to True.
        seed (int, optional): Random seed, identical on every rank. Defaults
            to None (a seed synchronized across ranks).
        rank (int, optional): This process's rank. Defaults to None (from
            :func:`mmengine.dist.get_dist_info`).
        world_size (int, optional): Number of processes. Defaults to None
            (from :func:`mmengine.dist.get_dist_info`).
    """

    def __init__(self,
                 dataset: SemiSegDataset,
                 batch_size: int,
                 num_pseudo: Optional[int] = None,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 rank: Optional[int] = None,
                 world_size: Optional[int] = None) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError('MixedBatchSampler: `batch_size` must be an '
                             f'integer >= 1, got {batch_size!r}.')
        if num_pseudo is None:
            num_pseudo = batch_size // 2
        if not isinstance(num_pseudo, int) or not 0 <= num_pseudo < batch_size:
            raise ValueError(
                'MixedBatchSampler: `num_pseudo` must be an integer in '
                f'[0, batch_size={batch_size}), got {num_pseudo!r}.')
        for attr in ('num_labeled', 'num_unlabeled', 'unlabeled_readable'):
            if not hasattr(dataset, attr):
                raise TypeError(
                    'MixedBatchSampler: `dataset` must be a SemiSegDataset '
                    f'(missing `{attr}`), got {type(dataset).__name__}.')
        dist_rank, dist_world_size = get_dist_info()
        self.rank = dist_rank if rank is None else rank
        self.world_size = (
            dist_world_size if world_size is None else world_size)
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(
                f'MixedBatchSampler: invalid `rank`={self.rank} for '
                f'`world_size`={self.world_size}.')

        self.dataset = dataset
        self.batch_size = batch_size
        self.num_pseudo = num_pseudo if dataset.unlabeled_readable else 0
        self.num_labeled_per_batch = batch_size - self.num_pseudo
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self._skip = 0

        if dataset.num_labeled < 1:
            raise ValueError('MixedBatchSampler: the dataset has no labeled '
                             'images.')
        if self.num_pseudo > 0 and dataset.num_unlabeled < 1:
            raise ValueError('MixedBatchSampler: the dataset has no '
                             'unlabeled images.')
        self._num_batches = self._count_batches(self.num_pseudo)

    def _count_batches(self, num_pseudo: int) -> int:
        """Batches per rank and epoch with ``num_pseudo`` pseudo-labeled
        images per batch (0: labeled-only batches)."""
        if num_pseudo > 0:
            return batches_per_epoch(self.dataset.num_unlabeled, num_pseudo,
                                     self.world_size)
        return batches_per_epoch(self.dataset.num_labeled, self.batch_size,
                                 self.world_size)

    @property
    def num_batches(self) -> int:
        """int: Batches this rank yields per epoch."""
        return self._num_batches

    def __len__(self) -> int:
        """Number of indices this rank yields per epoch."""
        return self._num_batches * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, which reseeds the shuffling.

        Args:
            epoch (int): Epoch number.
        """
        self.epoch = epoch

    def _permutation(self, n: int, generator: torch.Generator) -> List[int]:
        """A permutation of ``range(n)``; identity when not shuffling."""
        if self.shuffle:
            return torch.randperm(n, generator=generator).tolist()
        return list(range(n))

    def _rank_share(self, stream: List[int], total: int) -> List[int]:
        """Wrap ``stream`` around to ``total`` indices; keep this rank's."""
        repeats = math.ceil(total / len(stream))
        return (stream * repeats)[:total][self.rank::self.world_size]

    def skip_batches(self, num_batches: int) -> None:
        """Start the next pass ``num_batches`` batches into the epoch.

        Used to resume a run in the middle of an epoch without loading the
        batches already trained on; applies to the next iteration only.

        Args:
            num_batches (int): Batches of the epoch to leave out.
        """
        if not 0 <= num_batches <= self._num_batches:
            raise ValueError(f'MixedBatchSampler: cannot skip {num_batches} '
                             f'of {self._num_batches} batches.')
        self._skip = num_batches

    def __iter__(self) -> Iterator[int]:
        """Yield this rank's indices of one epoch, batch after batch."""
        skip, self._skip = self._skip * self.batch_size, 0
        return itertools.islice(self._indices(), skip, None)

    def _indices(self) -> Iterator[int]:
        """This rank's indices of one full epoch, batch after batch."""
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        num_labeled = self.dataset.num_labeled
        if self.num_pseudo == 0:
            total = self._num_batches * self.batch_size * self.world_size
            yield from self._rank_share(
                self._permutation(num_labeled, generator), total)
            return

        unlabeled = self._rank_share(
            self._permutation(self.dataset.num_unlabeled, generator),
            self._num_batches * self.num_pseudo * self.world_size)
        labeled_total = (
            self._num_batches * self.num_labeled_per_batch * self.world_size)
        labeled_stream: List[int] = []
        while len(labeled_stream) < labeled_total:
            labeled_stream += self._permutation(num_labeled, generator)
        labeled = self._rank_share(labeled_stream, labeled_total)

        for b in range(self._num_batches):
            step = self.num_labeled_per_batch
            yield from labeled[b * step:(b + 1) * step]
            for u in unlabeled[b * self.num_pseudo:(b + 1) * self.num_pseudo]:
                yield num_labeled + u


def endless_batches(dataloader: DataLoader,
                    start: int = 0) -> Iterator[Sequence[dict]]:
    """Batches of ``dataloader``, epoch after epoch, from batch ``start``.

    Epoch ``e`` is the sampler's :meth:`MixedBatchSampler.set_epoch` ``(e)``
    pass, so batch ``start`` is what an uninterrupted run would see there
    (a resumed run skips the batches already trained on, unloaded).

    Args:
        dataloader (DataLoader): A dataloader over a
            :class:`MixedBatchSampler`.
        start (int): Batches to leave out, counted from epoch 0.

    Yields:
        Sequence[dict]: The batches.
    """
    sampler = dataloader.sampler
    epoch, skip = divmod(start, len(dataloader))
    while True:
        sampler.set_epoch(epoch)
        sampler.skip_batches(skip)
        skip = 0
        yield from dataloader
        epoch += 1
