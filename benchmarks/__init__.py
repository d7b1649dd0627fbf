"""Benchmarks of DST-CBC: accuracy (``camvid``) and performance
(``labeler``, ``train_step``, ``round_profile``, ``amp``), each run from the
repository root as a module: ``python -m benchmarks.<name>.run``."""
