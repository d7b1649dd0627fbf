"""Run a step on the main process only, with every rank sharing its outcome."""
from typing import Any, Callable, Optional

from mmengine.dist import broadcast_object_list, is_main_process


def on_main_process(fn: Callable[..., Any], *args, **kwargs) -> None:
    """Call ``fn`` on rank 0; every rank raises what it raised.

    The other ranks wait for rank 0's outcome (a barrier), so a refusal
    (a held lock, a bad file) stops all of them with the same message.
    Without distributed training this is a plain call.

    Args:
        fn (Callable): The step; its return value is dropped.
        *args: Positional arguments of ``fn``.
        **kwargs: Keyword arguments of ``fn``.
    """
    outcome: list = [None]
    if is_main_process():
        try:
            fn(*args, **kwargs)
        except Exception as e:  # shared with the other ranks, then raised
            outcome[0] = e
    broadcast_object_list(outcome)
    error: Optional[Exception] = outcome[0]
    if error is not None:
        raise error
