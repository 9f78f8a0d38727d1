"""Slack listeners, registered in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from handlers.deps import Deps


def register(app: AsyncApp, deps: Deps) -> None:
    """Attach every listener to the Bolt app; each gets `deps` explicitly."""
    from handlers import actions, callback, commands, home

    commands.register(app, deps)
    actions.register(app, deps)
    callback.register(app, deps)
    home.register(app, deps)
