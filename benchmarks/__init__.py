"""Benchmarks of DST-CBC: accuracy (``camvid``) and performance
(``labeler``, ``train_step``, ``round_profile``), each run as a script."""
