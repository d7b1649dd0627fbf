"""Training step: a semi-supervised 4 + 4 step against a plain MMSeg step
(``python -m benchmarks.train_step.run``)."""
