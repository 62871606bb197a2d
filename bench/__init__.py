"""Benchmarks: each prints `NAME ratio=X.XX (ours A / baseline B)`, both measured in the
same run, medians of several repetitions. Never a timed assertion in `make test`."""
