"""torch's intra-op threads for a block of a test."""
from contextlib import contextmanager
from typing import Iterator

import torch


@contextmanager
def torch_threads(num: int = 1) -> Iterator[None]:
    """Run the block with ``num`` torch threads, then restore the count.

    Tiny models are many small ops, which several threads only slow down on
    a busy machine.

    Args:
        num (int): Threads inside the block. Defaults to 1.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(num)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
