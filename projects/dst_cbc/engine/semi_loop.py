"""MMEngine's iteration-based train loop for methods that train on labeled
and unlabeled images online (UniMatch), its length in epochs over the
unlabeled images."""
import copy
import math
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.dist import broadcast, get_dist_info
from mmengine.runner import IterBasedTrainLoop, set_random_seed
from torch import nn
from torch.utils.data import DataLoader

from mmseg.registry import LOOPS
from ..datasets import MixedBatchSampler, SemiSegDataset, endless_batches
from ..datasets.file_checks import check_dataset_files
from .curriculum_loop import check_num_classes
from .run_safety import on_main_process, record_run


def _with_sampler_batch_size(dataloader: dict) -> dict:
    """A copy of a dataloader config whose sampler has its batch size."""
    cfg = copy.deepcopy(dataloader)
    sampler = cfg['sampler']
    if sampler.setdefault('batch_size',
                          cfg['batch_size']) != cfg['batch_size']:
        raise ValueError(
            f'train_dataloader.sampler.batch_size={sampler["batch_size"]} '
            f'differs from train_dataloader.batch_size={cfg["batch_size"]}')
    return cfg


@LOOPS.register_module()
class SemiIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` over a ``SemiSegDataset(online=True)``.

    Compared with MMEngine's loop:

    - its length is ``epochs`` passes over the unlabeled set:
      ``max_iters = ceil(epochs * num_unlabeled / (world_size *
      unlabeled_per_iter))``, so a parameter scheduler without ``end``
      spans the whole run (MMEngine's default ``end`` is ``max_iters``);
    - before training, every file of the labeled, unlabeled and val lists
      is checked (:func:`~dst_cbc.datasets.file_checks.check_dataset_files`,
      the unlabeled set's ground truth optional), the model's classes
      against the data's, and the work dir is recorded as this config's
      (``run.json``), as ``CurriculumTrainLoop`` does;
    - before every iteration the random generators are seeded from the
      run's seed and the iteration, and a resumed run starts at its
      iteration without loading the batches before it
      (:func:`~dst_cbc.datasets.endless_batches`): with ``num_workers=0``
      it repeats the uninterrupted run. A run resumed at a validation
      iteration validates first (the checkpoint is saved before it);
    - every rank validates rank 0's BatchNorm buffers, the model the
      checkpoints hold.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The train dataloader: a
            ``SemiSegDataset(online=True)`` and a ``MixedBatchSampler``
            (whose ``batch_size`` defaults to the dataloader's).
        epochs (float): Passes over the unlabeled images.
        unlabeled_per_iter (int, optional): Unlabeled images an iteration
            learns from, counted in an epoch. Defaults to the sampler's
            ``num_pseudo`` (UniMatch: set it to half of that, the other
            half being CutMix sources, as the authors count epochs).
        val_begin (int): The iteration that begins validating. Defaults to
            1.
        val_interval (int): Validation interval. Defaults to 1000.
        dynamic_intervals (list[tuple[int, int]], optional): As
            ``IterBasedTrainLoop``'s. Defaults to None.
    """

    def __init__(
            self,
            runner,
            dataloader: Union[DataLoader, Dict],
            epochs: float,
            unlabeled_per_iter: Optional[int] = None,
            val_begin: int = 1,
            val_interval: int = 1000,
            dynamic_intervals: Optional[List[Tuple[int, int]]] = None) -> None:
        if not epochs > 0:
            raise ValueError(f'train_cfg.epochs must be > 0, got {epochs!r}')
        if isinstance(dataloader, dict):
            dataloader = _with_sampler_batch_size(dataloader)
        # max_iters is known once the dataloader is built; set below.
        super().__init__(runner, dataloader, 1, val_begin, val_interval,
                         dynamic_intervals)
        dataset, sampler = self.dataloader.dataset, self.dataloader.sampler
        if not (isinstance(dataset, SemiSegDataset) and dataset.online
                and isinstance(sampler, MixedBatchSampler)
                and sampler.num_pseudo > 0):
            raise ValueError(
                'SemiIterBasedTrainLoop needs train_dataloader.dataset '
                "SemiSegDataset(online=True) and sampler MixedBatchSampler "
                'with num_pseudo > 0')
        if unlabeled_per_iter is None:
            unlabeled_per_iter = sampler.num_pseudo
        if not 0 < unlabeled_per_iter <= sampler.num_pseudo:
            raise ValueError(
                'train_cfg.unlabeled_per_iter must be in [1, '
                f'{sampler.num_pseudo}] (the sampler\'s num_pseudo), got '
                f'{unlabeled_per_iter!r}')
        # A new epoch's iterator draws a base seed from the loader's
        # generator instead of torch's global one, which every iteration
        # seeds: a run resumed mid-epoch then repeats the uninterrupted one.
        self.dataloader.generator = torch.Generator().manual_seed(runner.seed)
        self.epochs = epochs
        self.unlabeled_per_iter = unlabeled_per_iter
        self._max_iters = math.ceil(epochs * dataset.num_unlabeled /
                                    (sampler.world_size * unlabeled_per_iter))

    def _datasets(self) -> List[Tuple[str, object, bool]]:
        """``(config option, dataset, needs labels)`` of what the run
        reads."""
        train = self.dataloader.dataset
        datasets = [('train_dataloader.dataset.labeled', train.labeled, True),
                    ('train_dataloader.dataset.unlabeled', train.unlabeled,
                     False)]
        val_loop = self.runner.val_loop
        if val_loop is not None and hasattr(val_loop.dataloader.dataset,
                                            'get_data_info'):
            datasets.append(
                ('val_dataloader.dataset', val_loop.dataloader.dataset, True))
        return datasets

    def run(self) -> nn.Module:
        """Check the data, then train from the current iteration."""
        on_main_process(check_dataset_files, self._datasets())
        check_num_classes(self.runner.model,
                          len(self.dataloader.dataset.metainfo['classes']))
        record_run(self.runner, 0, 1)
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0 and self._validates_now():
            # Resumed at a validation: its checkpoint preceded it.
            self._validate()
        batches = endless_batches(self.dataloader, self._iter)
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            set_random_seed(self.runner.seed + self._iter)
            self.run_iter(next(batches))
            if self._validates_now():
                self._validate()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _validates_now(self) -> bool:
        """Whether the iterations done so far end with a validation."""
        self._decide_current_val_interval()
        return (self.runner.val_loop is not None
                and self._iter >= self.val_begin
                and (self._iter % self.val_interval == 0
                     or self._iter == self._max_iters))

    def _validate(self) -> None:
        """Run the val loop on rank 0's BatchNorm buffers."""
        if get_dist_info()[1] > 1:
            for buffer in self.runner.model.buffers():
                broadcast(buffer, src=0)
        self.runner.val_loop.run()
