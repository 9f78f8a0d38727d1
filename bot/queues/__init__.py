"""The queue model (#14), pure: who waits in each queue now (live.py), when a queue is in trouble and one
breach's lifecycle (health.py), a period's figures (figures.py). bot/supervision/ does the I/O."""
