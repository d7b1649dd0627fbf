"""Train and infer with the model's weights in channels_last memory order.

:class:`ChannelsLastHook` converts a single-process model before training,
validation and testing. A model in DDP must be converted before it is
wrapped (DDP lays its gradient buckets out after the parameters: converting
a wrapped model scrambles the first step's gradients), which
:class:`ChannelsLastDistributedDataParallel` does; ``tools/train.py`` and
``tools/test.py`` select it for a config with the hook under a launcher.
"""
import torch
from mmengine.hooks import Hook
from mmengine.model import MMDistributedDataParallel, is_model_wrapper
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mmseg.registry import HOOKS, MODEL_WRAPPERS


def to_channels_last(model: nn.Module) -> nn.Module:
    """Store every 4-D parameter and buffer of ``model`` channels_last.

    Parameters keep their identity (an optimizer built on them stays
    valid); state dicts load into them with ``copy_``, which keeps the
    layout. A convolution whose weight is channels_last returns
    channels_last outputs for contiguous inputs too, so the layout spreads
    through the network without converting the inputs.

    Args:
        model (nn.Module): The model, not in a model wrapper.

    Returns:
        nn.Module: ``model``, converted in place.
    """
    return model.to(memory_format=torch.channels_last)


def is_channels_last(model: nn.Module) -> bool:
    """Whether every 4-D parameter of ``model`` is channels_last.

    Args:
        model (nn.Module): The model.

    Returns:
        bool: True if so (also for a model without 4-D parameters).
    """
    return all(
        p.is_contiguous(memory_format=torch.channels_last)
        for p in model.parameters() if p.dim() == 4)


@MODEL_WRAPPERS.register_module()
class ChannelsLastDistributedDataParallel(MMDistributedDataParallel):
    """MMEngine's DDP wrapper around a model converted to channels_last
    first (:func:`to_channels_last`), so that DDP's gradient buckets have
    the parameters' layout from the first step on.

    Args:
        module (nn.Module): The model to convert and wrap.
        **kwargs: Arguments of :class:`MMDistributedDataParallel`.
    """

    def __init__(self, module: nn.Module, **kwargs) -> None:
        super().__init__(module=to_channels_last(module), **kwargs)


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Train, validate and test with the model in channels_last.

    Converts the model before training, validation and testing (after its
    weights are initialized or loaded; a no-op once converted). The layout
    of GPU tensor cores and, for some models, of oneDNN's faster CPU
    kernels: measure before enabling it (``benchmarks/amp``: on this
    project's CPU 7-27 % faster fp32 steps for DLV2-R18-mini, Fast-SCNN and
    EfficientNet-Lite0). Results differ from the contiguous layout's by the
    order of floating-point sums only (pseudo labels identical or a few
    pixels apart). Enable it with
    ``custom_hooks = [..., dict(type='ChannelsLastHook')]``; under DDP the
    model wrapper must be :class:`ChannelsLastDistributedDataParallel`.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        """Convert after the weights are initialized or loaded."""
        self._convert(runner)

    def before_val(self, runner) -> None:
        """Convert for a validation-only run (a no-op after training)."""
        self._convert(runner)

    def before_test(self, runner) -> None:
        """Convert for a test run."""
        self._convert(runner)

    @staticmethod
    def _convert(runner) -> None:
        """Convert ``runner.model``; refuse a DDP model left as it is."""
        model = runner.model
        if not isinstance(model, DistributedDataParallel):
            to_channels_last(
                model.module if is_model_wrapper(model) else model)
        elif not is_channels_last(model.module):
            raise RuntimeError(
                'ChannelsLastHook: the model is wrapped in '
                f'{type(model).__name__} and not channels_last; converting '
                'it now would scramble the first step\'s gradients. Set '
                "model_wrapper_cfg=dict(type='ChannelsLastDistributed"
                "DataParallel')")
