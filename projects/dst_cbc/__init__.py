"""DST-CBC: an MMSegmentation 1.x extension; importing it registers every
module."""
import warnings

from . import compat  # noqa: F401  (checkpoints: weights_only + allow-list)
from . import datasets, engine, models, pseudo_labels  # noqa: F401

# MMSeg 1.2.2's own BaseDecodeHead builds its losses with the build_loss it
# deprecates, so every head warns; nothing for a user to change.
warnings.filterwarnings(
    'ignore', message='``build_loss`` would be deprecated soon')

__version__ = '0.1.0'
