"""Pseudo-labeling: our one-pass labeler against the paper's Algorithm 1
(``python -m benchmarks.labeler.run``)."""
