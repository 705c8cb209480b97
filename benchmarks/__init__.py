"""mdplab's benchmark suite: time to a certified 1e-8-accurate V* against peer libraries.

``python -m benchmarks.run`` (``make bench``) writes ``benchmarks/results.md``;
``python -m benchmarks.run --quick`` is a < 1 min smoke version. From Python,
``benchmarks.run.main(quick=True)`` returns the tidy results table (one row per run).
See ``docs/benchmarks.md`` for the protocol.
"""
