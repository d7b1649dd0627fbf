"""DST-CBC: an MMSegmentation 1.x extension; importing it registers every module."""
