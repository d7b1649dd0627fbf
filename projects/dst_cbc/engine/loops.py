"""The train loops of semi-supervised methods.

:class:`CurriculumTrainLoop` runs DST-CBC's class-balanced curriculum (a
supervised round 0, then offline self-training rounds);
:class:`SemiIterBasedTrainLoop` trains an online method (UniMatch) over
epochs of the unlabeled images. Both check the run's data before training,
record the work dir as the config's, and validate rank 0's model.

The curriculum:

Round 0 trains on the labeled images only (or is a trained baseline given
as ``baseline_checkpoint``). Each round r = 1..R then

1. loads the best checkpoint so far (by validation score, round 0 included),
2. resets the optimizer (momentum cleared, learning rate back to its initial
   value) and starts fresh parameter schedules over the round's iterations,
3. calls the ``before_train_epoch`` hooks: :class:`PseudoLabelHook` labels
   the unlabeled images with that model and ratio ``alphas[r - 1]`` and
   switches the train dataloader to labeled + pseudo-labeled images,
4. trains ``epochs_per_round`` passes over the unlabeled images,
5. validates every ``val_interval`` iterations and at the end of the round,
   keeping the round's best checkpoint as ``round_<r>_best.pth``,
6. records the round (:class:`RoundResult`) in ``summary.json``, then calls
   the ``after_train_epoch`` hooks (reports).

Parameter schedulers in the config describe *one round*: every scheduler
without an ``end`` is stretched to the round's length, so ``PolyLR`` without
``end`` gives the paper's fresh poly schedule per round.
"""
import copy
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.dist import barrier, broadcast, get_dist_info
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop, set_random_seed
from mmengine.runner.base_loop import BaseLoop
from torch import nn
from torch.utils.data import DataLoader

from mmseg.registry import LOOPS
from ..datasets import MixedBatchSampler, SemiSegDataset, endless_batches
from ..datasets.file_checks import check_dataset_files
from ..models import check_dynamic_heads
from ..pseudo_labels import PseudoLabels, read_stats
from .checkpoints import (best_checkpoint_name, remove_outdated_round_ends,
                          save_round_best, save_round_end)
from .pseudo_label_hook import PseudoLabelHook
from .report import record_results
from .round_schedule import (check_train_options, restart_optimization,
                             round_lengths)
from .rounds import RESULTS_KEY, RoundResult, best_result, results_from_hub
from .run_safety import on_main_process, record_run

__all__ = ['CurriculumTrainLoop', 'RESULTS_KEY', 'ROUND_BEST_KEY']

#: Message-hub key of the current round's best validation score.
ROUND_BEST_KEY = 'curriculum_round_best'


@LOOPS.register_module()
class CurriculumTrainLoop(BaseLoop):
    """Train the DST-CBC curriculum: baseline round, then self-training rounds.

    Args:
        runner (Runner): The runner.
        dataloader (dict): Train dataloader config whose dataset is a
            ``SemiSegDataset`` and whose sampler is a ``MixedBatchSampler``.
            It is rebuilt at every self-training round with its labels.
        alphas (Sequence[float]): Pseudo-label ratio of each self-training
            round, each in (0, 1]. Defaults to the paper's 0.2 .. 1.0; ``()``
            trains a supervised model (round 0 only).
        epochs_per_round (float): Passes over the unlabeled set per round.
        baseline_iters (int, optional): Iterations of round 0.
        baseline_epochs (float, optional): Epochs over the labeled set in
            round 0, used when ``baseline_iters`` is not given.
        base_epochs (float): When neither is given, round 0 lasts
            ``base_epochs * sqrt(1 / labeled share)`` epochs (the paper: 30,
            Cityscapes 60). Defaults to 30.
        round_iters (int, optional): Iterations per self-training round,
            overriding ``epochs_per_round``.
        baseline_checkpoint (str, optional): A trained supervised baseline
            (e.g. the ``round_0_best.pth`` of a run with ``alphas=()``):
            round 0 is not trained but this checkpoint, validated.
        val_interval (int): Validate every this many iterations of a round
            (and always at a round's end).
        metric (str): Validation metric that picks the best checkpoint.
        round_lr_mult (float): Self-training rounds start at this multiple of
            the optimizer's initial learning rate (the paper doubles it for
            Cityscapes self-training). Defaults to 1.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 alphas: Sequence[float] = (0.2, 0.4, 0.6, 0.8, 1.0),
                 epochs_per_round: float = 6,
                 baseline_iters: Optional[int] = None,
                 baseline_epochs: Optional[float] = None,
                 base_epochs: float = 30.,
                 round_iters: Optional[int] = None,
                 baseline_checkpoint: Optional[str] = None,
                 val_interval: int = 1000,
                 metric: str = 'mIoU',
                 round_lr_mult: float = 1.0) -> None:
        if not isinstance(dataloader, dict):
            raise TypeError(
                'CurriculumTrainLoop rebuilds its dataloader every '
                'round and needs train_dataloader as a config dict')
        check_train_options(
            dict(
                alphas=alphas,
                epochs_per_round=epochs_per_round,
                baseline_iters=baseline_iters,
                baseline_epochs=baseline_epochs,
                base_epochs=base_epochs,
                round_iters=round_iters,
                baseline_checkpoint=baseline_checkpoint,
                val_interval=val_interval,
                round_lr_mult=round_lr_mult))
        self._dataloader_cfg = _checked_dataloader_cfg(dataloader)
        super().__init__(runner, self._dataloader_cfg)
        self.alphas = list(alphas)
        self.val_interval = val_interval
        self.metric = metric
        self.round_lr_mult = round_lr_mult
        self.baseline_checkpoint = baseline_checkpoint
        self._round = self._iter = 0
        self.results: List[RoundResult] = []

        dataset = self.dataloader.dataset
        _check_train_dataset(runner, dataset, self.alphas)
        runner.visualizer.dataset_meta = dataset.metainfo
        sampler = self._dataloader_cfg['sampler']
        self.round_iters = round_lengths(
            dataset.num_labeled,
            dataset.num_unlabeled,
            len(self.alphas),
            sampler['batch_size'],
            sampler.get('num_pseudo', sampler['batch_size'] // 2),
            get_dist_info()[1],
            baseline_iters=0 if baseline_checkpoint else baseline_iters,
            baseline_epochs=baseline_epochs,
            base_epochs=base_epochs,
            round_iters=round_iters,
            epochs_per_round=epochs_per_round)

    # -- what the runner, hooks and loggers read ----------------------------
    @property
    def max_epochs(self) -> int:
        """int: Number of rounds, the baseline included."""
        return len(self.alphas) + 1

    @property
    def max_iters(self) -> int:
        """int: Iterations of the whole curriculum."""
        return sum(self.round_iters)

    @property
    def epoch(self) -> int:
        """int: The current round (MMEngine's epoch counter)."""
        return self._round

    @property
    def iter(self) -> int:
        """int: Iterations done in the whole curriculum."""
        return self._iter

    @property
    def round(self) -> int:
        """int: The current round: 0 is the supervised baseline."""
        return self._round

    @property
    def alpha(self) -> Optional[float]:
        """float | None: Pseudo-label ratio of the current round."""
        return None if self._round == 0 else self.alphas[self._round - 1]

    @property
    def dataloader_cfg(self) -> dict:
        """dict: A copy of the train dataloader's config, from which a hook
        may build the dataloader of a round (:class:`PseudoLabelHook`)."""
        return copy.deepcopy(self._dataloader_cfg)

    @property
    def best(self) -> Optional[RoundResult]:
        """RoundResult | None: The best round so far."""
        return best_result(self.results)

    # -- the curriculum -------------------------------------------------------
    def run(self) -> nn.Module:
        """Run round 0 and every later round.

        After ``--resume`` the rounds already recorded (kept in the message
        hub of the checkpoint) are skipped; a round interrupted after some
        iterations continues from the checkpoint's model, optimizer and
        schedule with that round's pseudo labels.
        """
        self.results = results_from_hub(self.runner.message_hub)
        check_data_and_claim(self.runner, len(self.results), self.max_epochs)
        if self.results:
            on_main_process(remove_outdated_round_ends, self.runner.work_dir,
                            len(self.results) - 1)
        self.runner.call_hook('before_train')
        for rnd in range(len(self.results), self.max_epochs):
            self._round = rnd
            if rnd == 0 and self.baseline_checkpoint:
                self._record(self._given_baseline())
            else:
                self._run_round()
        self.runner.call_hook('after_train')
        return self.runner.model

    def _run_round(self) -> None:
        """Run the current round from where it stands."""
        rnd, num_iters = self._round, self.round_iters[self._round]
        done = self._iter - sum(self.round_iters[:rnd])
        if done == 0:
            if rnd > 0:
                self._load_best()
            restart_optimization(self.runner, num_iters,
                                 1.0 if rnd == 0 else self.round_lr_mult)
            self.runner.message_hub.update_info(ROUND_BEST_KEY, None)
        else:
            print_log(
                f'resuming round {rnd} at iteration {done}/{num_iters} of '
                'the round',
                logger='current')
        self.runner.call_hook('before_train_epoch')
        labels = self._round_labels()
        score = self._train_round(num_iters, done)
        self._record(
            RoundResult.of_round(
                rnd, self.alpha, num_iters, score,
                osp.join(self.runner.work_dir, best_checkpoint_name(rnd)),
                labels))

    def _round_labels(self) -> Optional[PseudoLabels]:
        """The pseudo labels the round trains on (None in round 0)."""
        if self._round == 0:
            return None
        folder = self.dataloader.dataset.pseudo_label_dir
        if folder is None:
            raise RuntimeError(
                f'round {self._round} has no pseudo labels: the '
                'before_train_epoch hooks did not switch the train '
                "dataloader to them; custom_hooks needs dict(type="
                "'PseudoLabelHook')")
        return PseudoLabels(folder, read_stats(folder))

    def _train_round(self, num_iters: int, done: int = 0) -> Optional[float]:
        """Train one round from its iteration ``done``; keep its best.

        Before every iteration the random generators are seeded from the
        run's seed and the iteration number, so that augmentation (with
        ``num_workers=0``) and a resumed run repeat exactly. A run resumed
        at a validation iteration validates first: that iteration's
        checkpoint was saved before its validation.

        Returns:
            float | None: The round's best score (None without validation).
        """
        hub = self.runner.message_hub
        best_score = hub.get_info(ROUND_BEST_KEY)
        batches = endless_batches(self.dataloader, done)
        for i in range(done, num_iters + 1):
            if i > done:  # i == done: its checkpoint preceded its validation
                self.runner.model.train()
                set_random_seed(self.runner.seed + self._iter)
                self._run_iter(next(batches))
            if i == 0 or self.runner.val_loop is None or (i % self.val_interval
                                                          and i != num_iters):
                continue
            score = self._validate()
            if best_score is None or score > best_score:
                best_score = score
                hub.update_info(ROUND_BEST_KEY, best_score)
                save_round_best(self.runner, self._round, self._iter)
        return best_score

    def _run_iter(self, data_batch: Sequence[dict]) -> None:
        """Run one training iteration with the usual hook calls."""
        self.runner.call_hook(
            'before_train_iter', batch_idx=self._iter, data_batch=data_batch)
        outputs = self.runner.model.train_step(
            data_batch, optim_wrapper=self.runner.optim_wrapper)
        self.runner.call_hook(
            'after_train_iter',
            batch_idx=self._iter,
            data_batch=data_batch,
            outputs=outputs)
        self._iter += 1

    def _validate(self) -> float:
        """Run the val loop on rank 0's model and return the selection
        metric.

        Under DDP (``broadcast_buffers=False``) every rank keeps BatchNorm
        running statistics of its own batches, and a checkpoint holds rank
        0's. Every rank takes rank 0's buffers first, so that all ranks
        validate the one model a checkpoint saves, before and after a
        resume. Training is unchanged: it normalises with batch statistics.
        """
        share_rank_0_buffers(self.runner.model)
        metrics = self.runner.val_loop.run()
        if self.metric not in metrics:
            raise KeyError(
                f'train_cfg.metric "{self.metric}" is not among the '
                f'validation metrics {sorted(metrics)}')
        return float(metrics[self.metric])

    def _load_best(self) -> None:
        """Load the best checkpoint so far into the model."""
        best = self.best
        if best is None:
            raise RuntimeError('no validated checkpoint to start round '
                               f'{self._round} from; is val_dataloader set?')
        barrier()
        self.runner.load_checkpoint(best.checkpoint, map_location='cpu')

    def _given_baseline(self) -> RoundResult:
        """Round 0 as ``baseline_checkpoint``: loaded (every key of the
        model, so a checkpoint of another layout is refused, not half
        loaded) and validated."""
        self.runner.load_checkpoint(
            self.baseline_checkpoint, map_location='cpu', strict=True)
        score = self._validate() if self.runner.val_loop is not None else None
        return RoundResult(0, None, 0, score, self.baseline_checkpoint)

    def _record(self, result: RoundResult) -> None:
        """Store a finished round, save its end state, report it."""
        self.results.append(result)
        record_results(self.runner, self.results, self.metric)
        save_round_end(self.runner, self._round, self._iter)
        self.runner.call_hook('after_train_epoch')


def check_data_and_claim(runner, rounds_done: int, num_rounds: int) -> None:
    """Check every file the run reads, then record the work dir as this
    config's (:func:`~.run_safety.record_run`): a run refused for its data
    leaves the work dir unclaimed.

    Args:
        runner (Runner): The runner, its train and val loops built.
        rounds_done (int): Rounds already recorded (after ``--resume``).
        num_rounds (int): Rounds of the run, round 0 included.
    """
    on_main_process(check_dataset_files, _run_datasets(runner))
    record_run(runner, rounds_done, num_rounds)


def share_rank_0_buffers(model: nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics).

    Under DDP (``broadcast_buffers=False``) every rank keeps statistics of
    its own batches, and a checkpoint holds rank 0's. Sharing them before a
    validation makes all ranks validate the one model a checkpoint saves,
    before and after a resume. Training is unchanged: it normalises with
    batch statistics. Without distributed training this does nothing.

    Args:
        model (nn.Module): The (wrapped) model.
    """
    if get_dist_info()[1] > 1:
        for buffer in model.buffers():
            broadcast(buffer, src=0)


def _checked_dataloader_cfg(dataloader: dict) -> dict:
    """A copy of the train dataloader config, its sampler's batch size set."""
    cfg = copy.deepcopy(dataloader)
    sampler = cfg['sampler']
    if sampler.get('type') != 'MixedBatchSampler':
        raise ValueError('the semi-supervised train loops need '
                         "train_dataloader.sampler type='MixedBatchSampler', "
                         'got '
                         f'{sampler.get("type")!r}')
    if sampler.setdefault('batch_size',
                          cfg['batch_size']) != cfg['batch_size']:
        raise ValueError(
            f'train_dataloader.sampler.batch_size={sampler["batch_size"]} '
            f'differs from train_dataloader.batch_size={cfg["batch_size"]}')
    return cfg


def _check_train_dataset(runner, dataset, alphas: Sequence[float]) -> None:
    """Self-training rounds need unlabeled images and a labeling hook; the
    model's heads must predict the training set's classes, and a head with
    the dynamic loss must be a ``DynamicLossHead``."""
    if alphas and dataset.num_unlabeled == 0:
        raise ValueError('train_cfg.alphas asks for self-training rounds '
                         'but train_dataloader.dataset has no unlabeled '
                         'images; set alphas=() for a supervised model')
    if alphas and not any(
            isinstance(hook, PseudoLabelHook) for hook in runner.hooks):
        raise ValueError('train_cfg.alphas asks for self-training rounds, '
                         'which need pseudo labels: add '
                         "dict(type='PseudoLabelHook') to custom_hooks")
    check_num_classes(runner.model, len(dataset.metainfo['classes']))
    check_dynamic_heads(runner.model)


def check_num_classes(model: nn.Module, num_classes: int) -> None:
    """The model's heads must predict the dataset's classes."""
    model = getattr(model, 'module', model)
    heads = [('model.decode_head', getattr(model, 'decode_head', None))]
    aux = getattr(model, 'auxiliary_head', None)
    aux = list(aux) if isinstance(aux, nn.ModuleList) else [aux]
    heads += [(f'model.auxiliary_head[{i}]', h) for i, h in enumerate(aux)]
    for name, head in heads:
        if head is not None and head.num_classes != num_classes:
            raise ValueError(
                f'{name}.num_classes={head.num_classes} but the training '
                f'dataset has {num_classes} classes')


def _run_datasets(runner) -> List[Tuple[str, object, bool]]:
    """The datasets a semi-supervised run reads, with whether they need
    labels.

    Args:
        runner (Runner): The runner, its train and val loops built.

    Returns:
        list[tuple]: ``(config option, dataset, needs labels)`` of the
        labeled, unlabeled (if any) and val (if any) datasets.
    """
    train = runner.train_loop.dataloader.dataset
    datasets = [('train_dataloader.dataset.labeled', train.labeled, True)]
    if train.unlabeled is not None:
        datasets.append(
            ('train_dataloader.dataset.unlabeled', train.unlabeled, False))
    val_loop = runner.val_loop
    if val_loop is not None and hasattr(val_loop.dataloader.dataset,
                                        'get_data_info'):
        datasets.append(
            ('val_dataloader.dataset', val_loop.dataloader.dataset, True))
    return datasets


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
            dataloader = _checked_dataloader_cfg(dataloader)
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

    def run(self) -> nn.Module:
        """Check the data, then train from the current iteration."""
        check_num_classes(self.runner.model,
                          len(self.dataloader.dataset.metainfo['classes']))
        check_data_and_claim(self.runner, 0, 1)
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
        share_rank_0_buffers(self.runner.model)
        self.runner.val_loop.run()
