"""CamVid at CPU scale: DST-CBC against the supervised baseline and the
oracle (``python -m benchmarks.camvid.run``)."""
