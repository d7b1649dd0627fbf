"""A labeled set and an unlabeled set whose labels are this round's pseudo
labels, seen as one index space.

Indices ``[0, num_labeled)`` are the labeled images, indices
``[num_labeled, num_labeled + num_unlabeled)`` the unlabeled ones. Every
sample carries ``data_samples.metainfo['is_pseudo']`` so that the loss can
weight pseudo-labeled pixels (the dynamic self-training loss). With
``online=True`` the unlabeled images are read as they are, for methods that
label them in the training step (UniMatch).
"""
import copy
import os.path as osp
from typing import List, Optional, Sequence, Union

import mmengine.fileio as fileio
from mmengine.dataset import BaseDataset
from torch.utils.data import Dataset

from mmseg.registry import DATASETS
from ..pseudo_labels.label_folder import label_dataset_cfg


def _describe(dataset: BaseDataset) -> str:
    """Name the files a dataset was listed from, for error messages."""
    ann_file = getattr(dataset, 'ann_file', None)
    data_prefix = getattr(dataset, 'data_prefix', None) or {}
    return (f'ann_file={ann_file!r}, '
            f'img_path={data_prefix.get("img_path", None)!r}')


def _normalize_path(path: str) -> str:
    """Normalize a local path so two spellings of one file compare equal."""
    return path if '://' in path else osp.abspath(osp.normpath(path))


def _img_paths(dataset: BaseDataset) -> List[str]:
    """Normalized ``img_path`` of every entry of ``dataset``'s data list."""
    return [
        _normalize_path(dataset.get_data_info(i)['img_path'])
        for i in range(len(dataset))
    ]


def _same_classes(a: Optional[Sequence], b: Optional[Sequence]) -> bool:
    """Whether two ``classes`` entries of metainfo name the same classes."""
    if a is None or b is None:
        return a is None and b is None
    return list(a) == list(b)


def _with_split(dataset: Union[dict, BaseDataset], split: Optional[int],
                name: str) -> Union[dict, BaseDataset]:
    """Fill the ``{split}`` placeholder of a dataset config's ``ann_file``.

    Args:
        dataset (dict | BaseDataset): A dataset config, or a built dataset
            (returned as is).
        split (int, optional): The split number.
        name (str): ``'labeled'`` or ``'unlabeled'``, for errors.

    Returns:
        dict | BaseDataset: A copy with the split filled in.
    """
    if not isinstance(dataset, dict):
        return dataset
    ann_file = dataset.get('ann_file', '')
    if '{split}' not in ann_file:
        return dataset
    if split is None:
        raise ValueError(f'SemiSegDataset: the {name} ann_file "{ann_file}" '
                         'has a {split} placeholder but `split` is not set.')
    return dict(dataset, ann_file=ann_file.replace('{split}', str(split)))


def unlabeled_dataset_cfg(semi_dataset_cfg: dict) -> Optional[dict]:
    """The unlabeled images' dataset config of a ``SemiSegDataset`` config.

    This is where the pseudo-labeler reads which images to label: from the
    run's config, with the ``{split}`` placeholder filled in.

    Args:
        semi_dataset_cfg (dict): A ``SemiSegDataset`` config (the run's
            ``train_dataloader.dataset``).

    Returns:
        dict | None: A deep copy of its ``unlabeled`` config (ground-truth
        paths untouched), or None when it has no unlabeled set.
    """
    if semi_dataset_cfg.get('type') != 'SemiSegDataset':
        raise ValueError('train_dataloader.dataset must be a SemiSegDataset, '
                         f'got {semi_dataset_cfg.get("type")}')
    unlabeled = semi_dataset_cfg.get('unlabeled')
    if unlabeled is None:
        return None
    return copy.deepcopy(
        _with_split(
            dict(unlabeled), semi_dataset_cfg.get('split'), 'unlabeled'))


@DATASETS.register_module()
class SemiSegDataset(Dataset):
    """Labeled images followed by unlabeled (pseudo-labeled) images.

    Both halves are ordinary MMSeg datasets, usually with the same training
    pipeline. When ``pseudo_label_dir`` is given, the unlabeled half is built
    by :func:`~dst_cbc.pseudo_labels.label_dataset_cfg`, so
    ``LoadAnnotations`` reads the round's pseudo labels instead of any
    ground truth. Without it (round 0 of the curriculum) only the labeled
    indices can be read, unless ``online``. If the unlabeled config names no
    ``classes``, it gets the labeled half's classes and palette. MMEngine's
    serialized data lists are used as they are (nothing is copied), so data
    loader workers share them.

    Args:
        labeled (dict | BaseDataset): The labeled dataset or its config.
        unlabeled (dict | BaseDataset, optional): The unlabeled dataset or
            its config. Must be a config when ``pseudo_label_dir`` is given.
            None for a supervised model trained on the labeled half alone
            (e.g. with every label), which has no self-training rounds.
        pseudo_label_dir (str, optional): Folder holding one pseudo label PNG
            per unlabeled image (class ids, 255 = ignore). Defaults to None
            (no pseudo labels yet).
        split (int, optional): Fills a ``{split}`` placeholder in either
            half's ``ann_file``, so that one config serves splits 1, 2, 3
            (``--cfg-options train_dataloader.dataset.split=2``).
        online (bool): Whether the unlabeled images are read as they are,
            through the unlabeled half's own pipeline (which needs no
            ground truth), for a method that labels them in its training
            step (UniMatch): their indices are readable without
            ``pseudo_label_dir``, which it excludes. They are still flagged
            ``is_pseudo``. Defaults to False.

    Raises:
        ValueError: If a half is empty, an image is in both halves, the
            two halves name different classes, ``unlabeled`` is a built
            dataset while ``pseudo_label_dir`` is given, the pseudo
            labeled half would remap class ids (``label_map``), or
            ``online`` is set without an unlabeled half or with
            ``pseudo_label_dir``.
        FileNotFoundError: If ``pseudo_label_dir`` or the pseudo label of an
            unlabeled image does not exist.
    """

    def __init__(self,
                 labeled: Union[dict, BaseDataset],
                 unlabeled: Union[dict, BaseDataset, None],
                 pseudo_label_dir: Optional[str] = None,
                 split: Optional[int] = None,
                 online: bool = False) -> None:
        if online and (unlabeled is None or pseudo_label_dir is not None):
            raise ValueError(
                'SemiSegDataset: `online=True` reads the unlabeled images '
                'as they are: it needs an `unlabeled` dataset and no '
                '`pseudo_label_dir`.')
        labeled = _with_split(labeled, split, 'labeled')
        unlabeled = _with_split(unlabeled, split, 'unlabeled')
        self._labeled = self._build(labeled, 'labeled')
        self._unlabeled: Optional[BaseDataset] = None
        if unlabeled is None:
            if pseudo_label_dir is not None:
                raise ValueError('SemiSegDataset: `pseudo_label_dir` is set '
                                 'but there is no `unlabeled` dataset.')
        elif isinstance(unlabeled, dict):
            self._unlabeled = self._build(
                self._unlabeled_build_cfg(unlabeled, pseudo_label_dir),
                'unlabeled')
        elif pseudo_label_dir is not None:
            raise ValueError(
                'SemiSegDataset: `pseudo_label_dir` needs `unlabeled` as a '
                'dataset config (dict) so it can be rebuilt to read the '
                f'pseudo labels, but got a built {type(unlabeled).__name__}.')
        else:
            self._unlabeled = self._build(unlabeled, 'unlabeled')
        self._pseudo_label_dir = pseudo_label_dir
        self._online = online
        self._num_labeled = len(self._labeled)
        self._num_unlabeled = (0 if self._unlabeled is None else len(
            self._unlabeled))
        if self._unlabeled is not None:
            self._validate()

    @staticmethod
    def _build(dataset: Union[dict, BaseDataset], name: str) -> BaseDataset:
        """Build a dataset from its config; pass a built one through.

        Args:
            dataset (dict | BaseDataset): The dataset or its config.
            name (str): ``'labeled'`` or ``'unlabeled'``, for errors.

        Returns:
            BaseDataset: The fully initialized, non-empty dataset.
        """
        if isinstance(dataset, dict):
            # Built lazily: MMEngine cannot serialize an empty data list,
            # so emptiness must be caught before ``full_init``.
            dataset = DATASETS.build(dict(dataset, lazy_init=True))
            empty = not dataset.load_data_list()
            if not empty:
                dataset.full_init()
        else:
            empty = len(dataset) == 0
        if empty:
            raise ValueError(f'SemiSegDataset: the {name} dataset is empty '
                             f'({_describe(dataset)}).')
        return dataset

    def _unlabeled_build_cfg(self, unlabeled_cfg: dict,
                             pseudo_label_dir: Optional[str]) -> dict:
        """The config the unlabeled half is built from.

        Args:
            unlabeled_cfg (dict): The unlabeled config as given.
            pseudo_label_dir (str, optional): Folder of the pseudo labels.

        Returns:
            dict: A copy reading pseudo labels when ``pseudo_label_dir`` is
            given, with the labeled half's classes and palette when it names
            no classes itself.
        """
        if pseudo_label_dir is None:
            cfg = copy.deepcopy(unlabeled_cfg)
        else:
            if '://' not in pseudo_label_dir and not osp.isdir(
                    pseudo_label_dir):
                raise FileNotFoundError(
                    'SemiSegDataset: `pseudo_label_dir` '
                    f'{pseudo_label_dir!r} is not a directory.')
            cfg = label_dataset_cfg(unlabeled_cfg, pseudo_label_dir)
        metainfo = dict(cfg.get('metainfo', None) or {})
        labeled_meta = self._labeled.metainfo
        if 'classes' not in metainfo and 'classes' in labeled_meta:
            metainfo['classes'] = labeled_meta['classes']
            if 'palette' in labeled_meta:
                metainfo['palette'] = labeled_meta['palette']
            cfg['metainfo'] = metainfo
        return cfg

    def _validate(self) -> None:
        """Check the halves agree on classes and share no image."""
        labeled_classes = self._labeled.metainfo.get('classes', None)
        unlabeled_classes = self._unlabeled.metainfo.get('classes', None)
        if not _same_classes(labeled_classes, unlabeled_classes):
            raise ValueError(
                'SemiSegDataset: the labeled and unlabeled datasets name '
                f'different classes: labeled {labeled_classes}, unlabeled '
                f'{unlabeled_classes}.')
        labeled_paths = set(_img_paths(self._labeled))
        for path in _img_paths(self._unlabeled):
            if path in labeled_paths:
                raise ValueError(
                    f'SemiSegDataset: image {path!r} is in both the labeled '
                    f'({_describe(self._labeled)}) and the unlabeled '
                    f'({_describe(self._unlabeled)}) dataset.')
        if self.has_pseudo_labels:
            self._check_pseudo_labels()

    def _check_pseudo_labels(self) -> None:
        """Check every unlabeled image has a pseudo label, used unmapped."""
        label_map = getattr(self._unlabeled, 'label_map', None) or {}
        num_classes = len(self.metainfo['classes'])
        remapped = sorted(k for k, v in label_map.items()
                          if k < num_classes and k != v)
        if remapped:
            raise ValueError(
                'SemiSegDataset: pseudo labels are class ids of the model, '
                'but the unlabeled dataset would remap class ids '
                f'{remapped} with label_map {label_map} (its `metainfo` '
                'classes differ from those of its dataset type); selecting a '
                'subset of classes is not supported with pseudo labels.')
        backend_args = getattr(self._unlabeled, 'backend_args', None)
        missing = []
        for i in range(self._num_unlabeled):
            info = self._unlabeled.get_data_info(i)
            path = info.get('seg_map_path', None)
            if path is None:
                raise ValueError(
                    'SemiSegDataset: the unlabeled dataset '
                    f'{type(self._unlabeled).__name__} gives no '
                    '`seg_map_path`, so it cannot read pseudo labels.')
            if not fileio.exists(path, backend_args=backend_args):
                missing.append((info['img_path'], path))
        if missing:
            img_path, path = missing[0]
            raise FileNotFoundError(
                f'SemiSegDataset: {len(missing)} unlabeled image(s) have no '
                f'pseudo label in {self._pseudo_label_dir!r}; e.g. '
                f'{img_path!r} needs {path!r}.')

    @property
    def labeled(self) -> BaseDataset:
        """BaseDataset: The labeled half."""
        return self._labeled

    @property
    def unlabeled(self) -> Optional[BaseDataset]:
        """BaseDataset | None: The unlabeled half (reading pseudo labels if
        any); None without one."""
        return self._unlabeled

    @property
    def num_labeled(self) -> int:
        """int: Number of labeled images (indices ``[0, num_labeled)``)."""
        return self._num_labeled

    @property
    def num_unlabeled(self) -> int:
        """int: Number of unlabeled images (the indices after the labeled
        ones)."""
        return self._num_unlabeled

    @property
    def has_pseudo_labels(self) -> bool:
        """bool: Whether the unlabeled images read pseudo labels."""
        return self._pseudo_label_dir is not None

    @property
    def online(self) -> bool:
        """bool: Whether the unlabeled images are read as they are."""
        return self._online

    @property
    def unlabeled_readable(self) -> bool:
        """bool: Whether the unlabeled indices can be read: with pseudo
        labels, or ``online``."""
        return self.has_pseudo_labels or self._online

    @property
    def pseudo_label_dir(self) -> Optional[str]:
        """str | None: The folder of the pseudo labels, as given."""
        return self._pseudo_label_dir

    @property
    def metainfo(self) -> dict:
        """dict: Meta information of the labeled half (a copy)."""
        return self._labeled.metainfo

    def __len__(self) -> int:
        """Number of labeled plus unlabeled images."""
        return self._num_labeled + self._num_unlabeled

    def __getitem__(self, idx: int) -> dict:
        """Get one packed sample, flagged as pseudo-labeled or not.

        Args:
            idx (int): Index; labeled first, then unlabeled.

        Returns:
            dict: The inner dataset's ``{'inputs', 'data_samples'}`` with
            ``data_samples.metainfo['is_pseudo']`` set (False for labeled,
            True for unlabeled images).
        """
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f'SemiSegDataset: index {idx} is out of range '
                             f'for {len(self)} images.')
        is_pseudo = idx >= self._num_labeled
        if not is_pseudo:
            results = self._labeled[idx]
        elif not self.unlabeled_readable:
            img_path = self._unlabeled.get_data_info(
                idx - self._num_labeled)['img_path']
            raise RuntimeError(
                f'SemiSegDataset: index {idx} is the unlabeled image '
                f'{img_path!r}, but the dataset was built without '
                '`pseudo_label_dir` (or `online=True`); sample only labeled '
                f'indices [0, {self._num_labeled}) before pseudo labels '
                'exist.')
        else:
            results = self._unlabeled[idx - self._num_labeled]
        data_samples = results.get('data_samples', None) if isinstance(
            results, dict) else None
        if data_samples is None:
            raise TypeError(
                'SemiSegDataset: the pipeline must end with PackSegInputs '
                "(a dict with 'data_samples'), got "
                f'{type(results).__name__}.')
        data_samples.set_metainfo(dict(is_pseudo=is_pseudo))
        self._check_label_values(data_samples)
        return results

    def _check_label_values(self, data_sample) -> None:
        """Refuse label values that are neither a class nor the ignore index.

        Args:
            data_sample (SegDataSample): A packed sample with ``gt_sem_seg``.

        Raises:
            ValueError: Naming the label file and the values at fault.
        """
        if 'gt_sem_seg' not in data_sample:
            return
        num_classes = len(self.metainfo['classes'])
        ignore_index = getattr(self._labeled, 'ignore_index', 255)
        label = data_sample.gt_sem_seg.data
        bad = (label >= num_classes) & (label != ignore_index)
        if bad.any():
            values = sorted(set(label[bad].unique().tolist()))
            raise ValueError(
                f'label file {data_sample.metainfo.get("seg_map_path")} holds '
                f'values {values}: labels must be class ids below '
                f'num_classes={num_classes} or the ignore index '
                f'{ignore_index}')
