"""UniMatch's training step against a bare PyTorch loop
(``python -m benchmarks.unimatch.run``)."""
