"""Slack listeners, grouped by the surface they answer, registered in one place."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, home, queues, views
from handlers.deps import Deps


def register(app: AsyncApp, deps: Deps) -> None:
    """Attach every listener to the Bolt app; each gets `deps` explicitly."""
    commands.register(app, deps)  # /ring
    actions.register(app, deps)  # buttons
    views.register(app, deps)  # modal submissions
    home.register(app, deps)  # App Home (events)
    queues.register(app, deps)  # the queue alert's "I'm on it"
    actions.register_fallback(app)  # last: any action id no listener above took
    views.register_fallback(app)  # and any dialog callback id
