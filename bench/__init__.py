"""Benchmarks: each measurement runs side by side with its floor and is judged against a target.

``python -m bench`` (or ``make bench``) runs them all and prints one table; ``--quick`` is a
smoke run on a small synthetic corpus. Generated corpora, built indexes and ``results.json``
live in ``bench/.data/`` (git-ignored).
"""
