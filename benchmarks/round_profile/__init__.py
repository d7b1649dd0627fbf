"""Where the time of a DST-CBC round goes
(``python -m benchmarks.round_profile.run``)."""
