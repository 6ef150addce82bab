"""Benchmarks of the state library against the code charm authors write by hand.

Run them with ``tox -e bench``; the results are written to ``docs/benchmarks.md``.
"""
