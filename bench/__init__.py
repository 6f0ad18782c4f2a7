"""veil's benchmarks: each ``bench/<area>.py`` races veil against a named peer on the same data
in one process run, prints a table and writes ``bench/results/<area>.json``.

Run one with ``python -m bench <area> [--quick]``; ``--quick`` keeps a run under a minute.
"""
