"""What supervisors hear (#14): live queue alerts edited in place (monitor.py) and the daily digest with its
chart (digest.py, chart.py). The model they read is bot/queues/ (pure); docs/queues.md says how it behaves."""
