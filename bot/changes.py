"""What became of a person's change, as the listeners say it: `Saved.NOW | Saved.LATER`, `NotSaved`, and what
kind of refusal a database failure is. The one way into the database is `storage/store.py: Store.write_or_hold`,
reached through the services in bot/; this module names its outcomes above storage/, so handlers/ stay off it."""

from storage import DatabaseBusy, NotSaved, Saved, write_failure

__all__ = ["DatabaseBusy", "NotSaved", "Saved", "write_failure"]
