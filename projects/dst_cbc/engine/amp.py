"""Mixed precision on every device: bf16 autocast on CPUs, AMP on CUDA.

MMEngine's ``AmpOptimWrapper`` needs a GPU-like device (and a gradient
scaler for float16). On a CPU, :class:`BF16OptimWrapper` runs the forward
pass and the loss under bfloat16 autocast instead: bfloat16 has float32's
exponent range, so the gradients need no loss scaling and the optimizer
steps as :class:`OptimWrapper` does, on float32 weights.
:func:`inference_autocast` gives the autocast context of a run's optimizer
wrapper, so that pseudo-labeling infers in the precision the run trains in.
"""
from contextlib import contextmanager, nullcontext
from typing import ContextManager, Iterator

import torch
from mmengine.device import get_device
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.runner.amp import autocast
from torch import nn

from mmseg.registry import OPTIM_WRAPPERS


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
