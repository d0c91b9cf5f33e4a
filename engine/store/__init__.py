"""Where the engine keeps workflows: SQLite by default, PostgreSQL when given a URL.

``open_store`` is the one place that maps a configured location to a store, so the app need not
know which backends exist, and psycopg is imported only when PostgreSQL is asked for.
"""

from __future__ import annotations

from engine.store.base import ResourceStore, WorkflowRecord, WorkflowStore

__all__ = ["ResourceStore", "WorkflowRecord", "WorkflowStore", "open_store"]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(url_or_path: str) -> WorkflowStore:
    """A PostgresStore for a ``postgresql://`` or ``postgres://`` URL, else a SQLiteStore file."""
    if url_or_path.lower().startswith(_POSTGRES_SCHEMES):
        from engine.store.postgres import PostgresStore

        return PostgresStore(url_or_path)
    from engine.store.sqlite import SQLiteStore

    return SQLiteStore(url_or_path)
