"""SQLite storage: the only code that touches SQL."""

from storage.schema import open_db
from storage.store import Store

__all__ = ["Store", "open_db"]
