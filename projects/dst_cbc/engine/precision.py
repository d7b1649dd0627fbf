"""Numeric precision and memory layout of training and inference.

Mixed precision on every device: MMEngine's ``AmpOptimWrapper`` needs a
GPU-like device (and a gradient scaler for float16). On a CPU,
:class:`BF16OptimWrapper` runs the forward pass and the loss under bfloat16
autocast instead: bfloat16 has float32's exponent range, so the gradients
need no loss scaling and the optimizer steps as :class:`OptimWrapper` does,
on float32 weights. :func:`inference_autocast` gives the autocast context of
a run's optimizer wrapper, so that pseudo-labeling infers in the precision
the run trains in.

Channels_last: :class:`ChannelsLastHook` stores the model's weights in
channels_last memory order before training, validation and testing. A model
in DDP must be converted before it is wrapped (DDP lays its gradient buckets
out after the parameters: converting a wrapped model scrambles the first
step's gradients), which :class:`ChannelsLastDistributedDataParallel` does;
``tools/train.py`` and ``tools/test.py`` select it for a config with the hook
under a launcher.
"""
from contextlib import contextmanager, nullcontext
from typing import ContextManager, Iterator

import torch
from mmengine.device import get_device
from mmengine.hooks import Hook
from mmengine.model import MMDistributedDataParallel, is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import MODEL_WRAPPERS
from mmengine.runner.amp import autocast
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mmseg.registry import HOOKS, OPTIM_WRAPPERS


def cpu_supports_bf16() -> bool:
    """Whether this CPU runs bfloat16 convolutions and matrix products.

    PyTorch's CPU kernels for bfloat16 convolutions are oneDNN's (MKL-DNN),
    which need AVX-512 (x86; native bfloat16 instructions with AVX512-BF16
    or AMX) or the bfloat16 extension of ARMv8.6; this asks oneDNN, as
    PyTorch's own tests do.

    Returns:
        bool: True if oneDNN is built in and supports bfloat16 here.
    """
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without the query
        return False


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """An :class:`OptimWrapper` whose forward pass runs under bfloat16
    autocast, without a gradient scaler.

    ``optim_context`` (entered by ``train_step`` around the forward pass and
    the loss) enables ``torch.autocast`` on the device MMEngine trains on
    (``mmengine.device.get_device()``): convolutions and matrix products
    run in bfloat16, the float32 weights are cast on the fly and receive
    float32 gradients. It is what ``--amp`` selects on a CPU with bfloat16
    support (:func:`cpu_supports_bf16`); CUDA runs keep MMEngine's
    ``AmpOptimWrapper``. Validation runs in float32 as with
    ``AmpOptimWrapper`` (MMEngine's ``ValLoop(fp16=True)`` changes that).

    Args:
        **kwargs: Arguments of :class:`OptimWrapper` (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.device_type = get_device()

    def autocast(self) -> ContextManager:
        """The bfloat16 autocast context of this wrapper's device.

        Returns:
            ContextManager: ``torch.autocast(device_type, torch.bfloat16)``
            through MMEngine's ``autocast`` (which checks the device).
        """
        return autocast(device_type=self.device_type, dtype=torch.bfloat16)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Gradient accumulation's context with bfloat16 autocast.

        Args:
            model (nn.Module): The training model.
        """
        with super().optim_context(model), self.autocast():
            yield


def inference_autocast(optim_wrapper: OptimWrapper) -> ContextManager:
    """The autocast context a run trains in, for inference in the same
    precision (pseudo-labeling).

    Args:
        optim_wrapper (OptimWrapper): The run's optimizer wrapper
            (``runner.optim_wrapper``).

    Returns:
        ContextManager: bfloat16 autocast for :class:`BF16OptimWrapper`,
        MMEngine's autocast of the wrapper's dtype for ``AmpOptimWrapper``
        (float16 on CUDA unless it says otherwise), else a no-op.
    """
    if isinstance(optim_wrapper, BF16OptimWrapper):
        return optim_wrapper.autocast()
    if isinstance(optim_wrapper, AmpOptimWrapper):
        return autocast(dtype=optim_wrapper.cast_dtype)
    return nullcontext()


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

    Registered in MMEngine's own ``MODEL_WRAPPERS``, beside
    ``MMDistributedDataParallel``: ``Runner.wrap_model`` looks the type up
    there, not in the default scope's registry (MMSeg's registry builds it
    through its parent).

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
