"""gankit's benchmarks: each module is runnable as ``python -m bench <name> [args]`` (or
``python -m bench.<name>``) and writes its results into its own section of docs/benchmarks.md."""
