"""The class-balanced curriculum: a supervised round 0, then self-training rounds.

Round 0 trains on the labeled images only. Each round r = 1..R then

1. loads the best checkpoint so far (by validation metric, round 0 included),
2. resets the optimizer (momentum cleared, learning rate back to its initial
   value) and starts fresh parameter schedules over the round's iterations,
3. calls the ``before_train_epoch`` hooks, where :class:`PseudoLabelHook`
   labels the unlabeled images with ratio ``alphas[r - 1]`` and hands the
   folder to :meth:`CurriculumTrainLoop.set_pseudo_labels`,
4. rebuilds the train dataloader over labeled + pseudo-labeled images and
   trains ``epochs_per_round`` passes over the unlabeled images,
5. validates every ``val_interval`` iterations and at the end of the round,
   keeping the round's best checkpoint as ``round_<r>_best.pth``,
6. records the round in :attr:`CurriculumTrainLoop.results` and
   ``summary.json``, then calls the ``after_train_epoch`` hooks (reports).

Parameter schedulers in the config describe *one round*: every scheduler
without an ``end`` is stretched to the round's length, so ``PolyLR`` without
``end`` gives the paper's fresh poly schedule per round.
"""
import copy
import json
import math
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Union

from mmengine.dist import barrier, is_main_process
from mmengine.logging import print_log
from mmengine.runner import set_random_seed
from mmengine.runner.base_loop import BaseLoop
from torch import nn
from torch.utils.data import DataLoader

from mmseg.registry import LOOPS
from ..utils import atomic_write_bytes, atomic_write_json, config_fingerprint
from .summary import best_result, format_summary, write_summary


def epochs_from_ratio(labeled_ratio: float, base_epochs: float = 30.) -> float:
    """The paper's supervised-baseline length: ``30 * sqrt(1 / ratio)`` epochs.

    Args:
        labeled_ratio (float): Labeled share of the training set, in (0, 1].
        base_epochs (float): Epochs at full labels (30 in the paper; use 60
            for Cityscapes, which trains twice as long).

    Returns:
        float: Epochs over the labeled set.
    """
    if not 0 < labeled_ratio <= 1:
        raise ValueError(f'labeled_ratio must be in (0, 1], got {labeled_ratio}')
    return base_epochs * math.sqrt(1. / labeled_ratio)


@LOOPS.register_module()
class CurriculumTrainLoop(BaseLoop):
    """Train the DST-CBC curriculum: baseline round, then self-training rounds.

    Args:
        runner (Runner): The runner.
        dataloader (dict): Train dataloader config whose dataset is a
            ``SemiSegDataset`` and whose sampler is a ``MixedBatchSampler``.
            It is rebuilt at every round with that round's pseudo labels.
        alphas (Sequence[float]): Pseudo-label ratio of each self-training
            round, each in (0, 1]. Defaults to the paper's 0.2 .. 1.0.
        epochs_per_round (float): Passes over the unlabeled set per round.
        baseline_iters (int, optional): Iterations of round 0.
        baseline_epochs (float, optional): Epochs over the labeled set in
            round 0, used when ``baseline_iters`` is not given. When neither
            is given, :func:`epochs_from_ratio` of the labeled share.
        round_iters (int, optional): Iterations per self-training round,
            overriding ``epochs_per_round``.
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
                 round_iters: Optional[int] = None,
                 val_interval: int = 1000,
                 metric: str = 'mIoU',
                 round_lr_mult: float = 1.0) -> None:
        if not isinstance(dataloader, dict):
            raise TypeError('CurriculumTrainLoop rebuilds its dataloader every '
                            'round and needs train_dataloader as a config dict')
        for alpha in alphas:
            if not 0 < alpha <= 1:
                raise ValueError('train_cfg.alphas must lie in (0, 1], '
                                 f'got {list(alphas)}')
        if val_interval < 1:
            raise ValueError(f'train_cfg.val_interval must be >= 1, '
                             f'got {val_interval}')
        self._dataloader_cfg = copy.deepcopy(dataloader)
        super().__init__(runner, self._round_dataloader_cfg(None))
        self.alphas = list(alphas)
        self.val_interval = val_interval
        self.metric = metric
        if round_lr_mult <= 0:
            raise ValueError(f'train_cfg.round_lr_mult must be > 0, '
                             f'got {round_lr_mult}')
        self.round_lr_mult = round_lr_mult
        self._round = 0
        self._epoch = 0
        self._iter = 0
        self._pseudo_label_dir: Optional[str] = None
        self._pseudo_label_stats: Optional[dict] = None
        self.results: List[dict] = []

        dataset = self.dataloader.dataset
        if hasattr(dataset, 'metainfo'):
            runner.visualizer.dataset_meta = dataset.metainfo
            self._check_num_classes(len(dataset.metainfo['classes']))
        self.round_iters = self._count_round_iters(
            baseline_iters, baseline_epochs, round_iters, epochs_per_round)

    def _check_num_classes(self, num_classes: int) -> None:
        """The model's heads must predict the dataset's classes."""
        model = self.runner.model
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

    # -- properties the runner, hooks and loggers read -------------------------
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
        return self._epoch

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
    def unlabeled_cfg(self) -> dict:
        """dict: Config of the unlabeled images (for the pseudo-labeler)."""
        return self.dataloader.dataset.unlabeled_cfg

    @property
    def best(self) -> Optional[dict]:
        """dict | None: The best round result so far."""
        return best_result(self.results)

    def set_pseudo_labels(self, label_dir: str, stats: dict) -> None:
        """Hand this round's pseudo-label folder to the loop.

        Args:
            label_dir (str): Folder of the round's label PNGs.
            stats (dict): The labeler's statistics (coverage, thresholds...).
        """
        self._pseudo_label_dir = label_dir
        self._pseudo_label_stats = stats

    # -- the curriculum -------------------------------------------------------
    def run(self) -> nn.Module:
        """Run round 0 (unless a baseline was loaded) and every later round.

        After ``--resume`` the rounds already recorded (kept in the message
        hub of the checkpoint) are skipped; a round interrupted after some
        iterations continues from the checkpoint's model, optimizer and
        schedule with that round's pseudo labels.
        """
        self.runner.call_hook('before_train')
        self._claim_work_dir()
        hub = self.runner.message_hub
        self.results = copy.deepcopy(hub.get_info('curriculum_results') or [])
        if self.results:
            self.round_iters[0] = self.results[0]['iters']
        elif self._iter == 0 and self.runner.cfg.get('load_from'):
            self.round_iters[0] = 0  # the loaded model is round 0
        for rnd in range(len(self.results), self.max_epochs):
            self._round = self._epoch = rnd
            done = self._iter - sum(self.round_iters[:rnd])
            if rnd == 0 and done == 0 and self.runner.cfg.get('load_from'):
                self._record_loaded_baseline()
                self._save_round_end()
                continue
            if done == 0:
                if rnd > 0:
                    self._load_best()
                self._reset_optimization(self.round_iters[rnd])
                hub.update_info('curriculum_round_best', None)
            else:
                print_log(
                    f'resuming round {rnd} at iteration {done}/'
                    f'{self.round_iters[rnd]} of the round', logger='current')
            self._pseudo_label_dir = None
            self.runner.call_hook('before_train_epoch')
            if rnd > 0 and self._pseudo_label_dir is None:
                raise RuntimeError(
                    f'round {rnd} has no pseudo labels: add '
                    "dict(type='PseudoLabelHook') to custom_hooks")
            self.dataloader = self.runner.build_dataloader(
                self._round_dataloader_cfg(self._pseudo_label_dir),
                seed=self.runner.seed)
            best = self._train_round(self.round_iters[rnd], done)
            self._record_round(best)
            self._save_round_end()
            self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _train_round(self, num_iters: int, done: int = 0) -> Optional[float]:
        """Train one round from its iteration ``done``; keep its best.

        Before every iteration the random generators are seeded from the
        run's seed and the iteration number, so that augmentation (with
        ``num_workers=0``) and a resumed run repeat exactly.

        Returns:
            float | None: The round's best metric (None without validation).
        """
        hub = self.runner.message_hub
        best_score = hub.get_info('curriculum_round_best')
        batches = self._batches(done)
        for i in range(done + 1, num_iters + 1):
            self.runner.model.train()
            set_random_seed(self.runner.seed + self._iter)
            self._run_iter(next(batches))
            if self.runner.val_loop is None or (
                    i % self.val_interval and i != num_iters):
                continue
            score = self._validate()
            if best_score is None or score > best_score:
                best_score = score
                hub.update_info('curriculum_round_best', best_score)
                self.runner.save_checkpoint(
                    self.runner.work_dir,
                    self._round_checkpoint_name(self._round),
                    save_optimizer=False,
                    save_param_scheduler=False,
                    meta=dict(iter=self._iter, epoch=self._round))
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

    def _batches(self, done: int = 0) -> Iterator[Sequence[dict]]:
        """Endless batches of the round's dataloader, epoch after epoch,
        starting after the round's first ``done`` batches."""
        sampler = self.dataloader.sampler
        epoch, skip = divmod(done, len(self.dataloader))
        while True:
            if hasattr(sampler, 'set_epoch'):
                sampler.set_epoch(epoch)
            if hasattr(sampler, 'skip_batches'):
                sampler.skip_batches(skip)
                skip = 0
            for batch in self.dataloader:
                if skip:
                    skip -= 1
                    continue
                yield batch
            epoch += 1

    def _validate(self) -> float:
        """Run the val loop and return the selection metric."""
        metrics = self.runner.val_loop.run()
        if self.metric not in metrics:
            raise KeyError(f'train_cfg.metric "{self.metric}" is not among the '
                           f'validation metrics {sorted(metrics)}')
        return float(metrics[self.metric])

    def _load_best(self) -> None:
        """Load the best checkpoint so far into the model."""
        best = self.best
        if best is None:
            raise RuntimeError('no validated checkpoint to start round '
                               f'{self._round} from; is val_dataloader set?')
        barrier()
        self.runner.load_checkpoint(best['checkpoint'], map_location='cpu')

    def _reset_optimization(self, num_iters: int) -> None:
        """Clear optimizer state, restore initial lrs, fresh schedules."""
        lr_mult = 1.0 if self._round == 0 else self.round_lr_mult
        optim_wrapper = self.runner.optim_wrapper
        wrappers = (optim_wrapper.values()
                    if hasattr(optim_wrapper, 'values') else [optim_wrapper])
        for wrapper in wrappers:
            optimizer = wrapper.optimizer
            optimizer.state.clear()
            for group in optimizer.param_groups:
                for key in [k for k in group if k.startswith('initial_')]:
                    group[key[len('initial_'):]] = group[key]
                group.setdefault('initial_lr', group['lr'])
                group['lr'] = group['initial_lr'] * lr_mult
        scheduler_cfg = self.runner.cfg.get('param_scheduler')
        if scheduler_cfg is None:
            return
        scheduler_cfg = copy.deepcopy(scheduler_cfg)
        for cfg in (scheduler_cfg
                    if isinstance(scheduler_cfg, list) else [scheduler_cfg]):
            if cfg.get('by_epoch', True):
                raise ValueError('CurriculumTrainLoop steps schedules per '
                                 'iteration: set by_epoch=False in '
                                 'param_scheduler')
            cfg.setdefault('end', num_iters)
        self.runner.param_schedulers = self.runner.build_param_scheduler(
            scheduler_cfg)

    def _round_dataloader_cfg(self, pseudo_label_dir: Optional[str]) -> dict:
        """The train dataloader config of a round."""
        cfg = copy.deepcopy(self._dataloader_cfg)
        cfg['dataset']['pseudo_label_dir'] = pseudo_label_dir
        sampler = cfg['sampler']
        if sampler.setdefault('batch_size', cfg['batch_size']) != cfg['batch_size']:
            raise ValueError(
                f'train_dataloader.sampler.batch_size={sampler["batch_size"]} '
                f'differs from train_dataloader.batch_size={cfg["batch_size"]}')
        return cfg

    def _count_round_iters(self, baseline_iters: Optional[int],
                           baseline_epochs: Optional[float],
                           round_iters: Optional[int],
                           epochs_per_round: float) -> List[int]:
        """Iterations of round 0 and of every self-training round."""
        dataset = self.dataloader.dataset
        sampler = self.dataloader.sampler
        if baseline_iters is None:
            if baseline_epochs is None:
                baseline_epochs = epochs_from_ratio(
                    dataset.num_labeled /
                    (dataset.num_labeled + dataset.num_unlabeled))
            baseline_iters = math.ceil(baseline_epochs * sampler.num_batches)
        if round_iters is None:
            round_iters = math.ceil(epochs_per_round *
                                    sampler.num_batches_with_pseudo_labels)
        return [int(baseline_iters)] + [int(round_iters)] * len(self.alphas)

    # -- bookkeeping ------------------------------------------------------------
    @staticmethod
    def _round_checkpoint_name(rnd: int) -> str:
        return f'round_{rnd}_best.pth'

    def _claim_work_dir(self) -> None:
        """Refuse a work dir that holds another run; mark it as this run's.

        ``run.json`` keeps the config fingerprint (model, data, schedule,
        hooks); a relaunch or ``--resume`` of the same config passes.
        """
        path = osp.join(self.runner.work_dir, 'run.json')
        fingerprint = config_fingerprint(self.runner.cfg)
        if osp.isfile(path):
            with open(path) as f:
                if json.load(f).get('config') != fingerprint:
                    raise ValueError(
                        f'work_dir {self.runner.work_dir} holds a different '
                        'run (its run.json has another config fingerprint); '
                        'choose another --work-dir or delete it')
        elif is_main_process():
            atomic_write_json(path, dict(config=fingerprint))
        barrier()

    def _save_round_end(self) -> None:
        """Save a resumable checkpoint of a finished round.

        ``--resume`` then restarts at the next round even when the run is
        killed before that round's first periodic checkpoint. The previous
        round's file is removed once ``last_checkpoint`` points at the new
        one.
        """
        name = f'round_{self._round}_end.pth'
        self.runner.save_checkpoint(
            self.runner.work_dir,
            name,
            meta=dict(iter=self._iter, epoch=self._round + 1))
        if is_main_process():
            atomic_write_bytes(
                osp.join(self.runner.work_dir, 'last_checkpoint'),
                osp.join(self.runner.work_dir, name).encode())
            previous = osp.join(self.runner.work_dir,
                                f'round_{self._round - 1}_end.pth')
            if osp.isfile(previous):
                os.remove(previous)

    def _record_loaded_baseline(self) -> None:
        """Validate the ``load_from`` model and record it as round 0."""
        score = self._validate() if self.runner.val_loop is not None else None
        self.results.append(
            dict(round=0, alpha=None, iters=0, mIoU=score, coverage=None,
                 pseudo_mIoU=None, pseudo_label_dir=None,
                 checkpoint=self.runner.cfg.load_from))
        self._log_round()

    def _record_round(self, score: Optional[float]) -> None:
        """Store the round's result, write summary.json and log the table."""
        stats = self._pseudo_label_stats if self._round > 0 else None
        self.results.append(
            dict(
                round=self._round,
                alpha=self.alpha,
                iters=self.round_iters[self._round],
                mIoU=score,
                coverage=None if stats is None else stats['coverage'],
                pseudo_mIoU=None if stats is None else stats.get('pseudo_miou'),
                pseudo_label_dir=self._pseudo_label_dir
                if self._round > 0 else None,
                checkpoint=osp.join(self.runner.work_dir,
                                    self._round_checkpoint_name(self._round))
                if score is not None else None))
        self._log_round()

    def _log_round(self) -> None:
        self.runner.message_hub.update_info('curriculum_results',
                                            copy.deepcopy(self.results))
        write_summary(
            osp.join(self.runner.work_dir, 'summary.json'), self.results,
            self.metric)
        print_log(
            '\n' + format_summary(self.results, self.metric), logger='current')
