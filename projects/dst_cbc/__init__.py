"""DST-CBC: an MMSegmentation 1.x extension; importing it registers every module."""
from . import compat  # noqa: F401  (fixes checkpoint loading on torch >= 2.6)
from . import datasets, engine, models, pseudo_labels  # noqa: F401

__version__ = '0.1.0'
