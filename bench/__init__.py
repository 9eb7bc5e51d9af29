"""Benchmarks of the tracker: slow providers, per-command overhead, LLM client overhead, web.

Run ``python -m bench`` (all four) or ``python -m bench slow|overhead|client|web``. Each
benchmark writes ``bench/results/<name>.json`` and ``bench/REPORT.md`` is regenerated from
all the result files present (see ``bench/report.py``).

They run on PostgreSQL (database ``bench``, created and dropped by the driver) and Redis
(db 12), so they do not disturb test runs on the ``test`` database and Redis db 15.
"""
