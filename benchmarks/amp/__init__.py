"""Mixed precision and channels_last on the CPU: step time and labels
(``python -m benchmarks.amp.run``)."""
