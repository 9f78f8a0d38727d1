"""The outbox: alert messages on their way to Slack, paced, retried, and posted exactly once (worker.py)."""

from bot.outbox.sending import OutboxStats, Render
from bot.outbox.worker import Outbox

__all__ = ["Outbox", "OutboxStats", "Render"]
