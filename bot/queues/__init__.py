"""Queues: what supervisors watch.

The model is pure (an import contract in pyproject.toml keeps it so): who waits in each queue now (live.py),
when a queue is in trouble and one breach's lifecycle (health.py), a period's figures (figures.py).
At the edge: the live queue alerts, edited in place as a breach changes (queue_alerts.py), and the daily digest
with its chart (daily_digest.py, chart.py). docs/queues.md says how they behave."""
