"""The WorkflowStore on PostgreSQL, for engines that share one database or outlive a disk.

Same semantics as the SQLite store: every write is its own short transaction, so a node's state
is committed before the engine acts on it. The engine calls the store synchronously, so this is
one psycopg connection guarded by a lock, reopened after the server drops it. Tables live in a
schema of their own (``sluice`` unless told otherwise) so tests can use a throwaway one. psycopg's
errors are wrapped: a lost or refused connection is a ``TemporaryError``, a duplicate workflow a
``ConflictError``, anything else a ``PermanentError``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from engine.status import Node
from engine.store.base import WorkflowRecord, with_generation
from sluice.core.errors import ConflictError, PermanentError, TemporaryError

# The advisory lock keeps two stores opening on an empty database from racing on CREATE.
SCHEMA = """
SELECT pg_advisory_xact_lock(hashtext({name}));
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.workflows (
    uid TEXT PRIMARY KEY,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    manifest JSONB NOT NULL,
    status JSONB NOT NULL,
    phase TEXT NOT NULL DEFAULT 'Pending',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    idempotency_key TEXT UNIQUE,
    generation BIGINT NOT NULL DEFAULT 0,
    UNIQUE (namespace, name)
);
CREATE TABLE IF NOT EXISTS {s}.nodes (
    workflow_uid TEXT NOT NULL REFERENCES {s}.workflows(uid) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    data JSONB NOT NULL,
    log_path TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (workflow_uid, node_id)
);
CREATE INDEX IF NOT EXISTS workflows_phase ON {s}.workflows (phase);
CREATE INDEX IF NOT EXISTS nodes_order ON {s}.nodes (workflow_uid, seq);
CREATE TABLE IF NOT EXISTS {s}.resources (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    manifest JSONB NOT NULL,
    generation BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (kind, namespace, name)
);
"""

_COLUMNS = "uid, namespace, name, manifest, status, idempotency_key"

_SECRET = re.compile(
    r"(?P<url>://[^:/@?#]*:)[^@/?#]*@"  # postgresql://user:secret@host
    r"|(?P<kw>\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&]*)",  # password=secret
    re.IGNORECASE,
)


def mask_dsn(dsn: str) -> str:
    """The DSN with any password replaced by ``***``, fit for a log line or an error."""

    def mask(m: re.Match[str]) -> str:
        return f"{m['url']}***@" if m["url"] else f"{m['kw']}***"

    return _SECRET.sub(mask, dsn)


class PostgresStore:
    """WorkflowStore on PostgreSQL."""

    def __init__(self, dsn: str, schema: str = "sluice") -> None:
        self.dsn = mask_dsn(dsn)
        self.schema = schema
        try:
            params: dict[str, Any] = conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            raise PermanentError(f"invalid PostgreSQL DSN {self.dsn}: {exc}") from exc
        params.setdefault("connect_timeout", 10)
        params.setdefault("application_name", "sluice")
        self._params = params
        self._lock = threading.Lock()
        self._closed = False
        self._db = self._connect()
        try:
            with self._session() as db, db.transaction():
                db.execute(self._sql(SCHEMA, name=sql.Literal(schema)))
        except BaseException:
            self._db.close()
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(**self._params, autocommit=True)
        except psycopg.Error as exc:
            raise TemporaryError(f"cannot connect to PostgreSQL at {self.dsn}: {exc}") from exc

    def _sql(self, template: str, **args: sql.Composable) -> sql.Composed:
        return sql.SQL(template).format(s=sql.Identifier(self.schema), **args)

    @contextmanager
    def _session(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection, held under the lock, reopened if the server dropped it."""
        with self._lock:
            if self._closed:
                raise PermanentError(f"the store on {self.dsn} is closed")
            if self._db.closed:  # also true once the server has dropped it
                self._db.close()
                self._db = self._connect()
            try:
                yield self._db
            except psycopg.OperationalError as exc:
                raise TemporaryError(f"PostgreSQL at {self.dsn}: {exc}") from exc
            except psycopg.errors.UniqueViolation:
                raise
            except psycopg.Error as exc:
                raise PermanentError(f"PostgreSQL at {self.dsn}: {exc}") from exc

    def _write(self, template: str, args: tuple[Any, ...]) -> None:
        with self._session() as db:
            db.execute(self._sql(template), args)

    def create(self, record: WorkflowRecord) -> None:
        try:
            with self._session() as db, db.transaction():
                db.execute(
                    self._sql(
                        "INSERT INTO {s}.workflows (uid, namespace, name, manifest, status,"
                        " phase, idempotency_key) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    ),
                    (
                        record.uid,
                        record.namespace,
                        record.name,
                        Jsonb(record.manifest),
                        Jsonb(record.status),
                        record.phase,
                        record.idempotency_key,
                    ),
                )
                for node in record.nodes.values():
                    self._put_node(db, record.uid, node)
        except psycopg.errors.UniqueViolation as exc:
            detail = exc.diag.message_detail or exc.diag.message_primary or str(exc)
            raise ConflictError(
                f"workflow {record.namespace}/{record.name} cannot be created: {detail}"
            ) from exc

    def save_manifest(self, uid: str, manifest: dict[str, Any]) -> None:
        """Store a changed manifest; the generation tells its running owner to look again."""
        self._write(
            "UPDATE {s}.workflows SET manifest = %s, generation = generation + 1 WHERE uid = %s",
            (Jsonb(manifest), uid),
        )

    def generation(self, uid: str) -> int:
        with self._session() as db:
            row = db.execute(
                self._sql("SELECT generation FROM {s}.workflows WHERE uid = %s"), (uid,)
            ).fetchone()
        return int(row[0]) if row else -1

    def save_status(self, uid: str, status: dict[str, Any]) -> None:
        self._write(
            "UPDATE {s}.workflows SET status = %s, phase = %s WHERE uid = %s",
            (Jsonb(status), status.get("phase") or "Pending", uid),
        )

    def _put_node(self, db: psycopg.Connection[Any], uid: str, node: Node) -> None:
        # The upsert keeps the row's seq, so a node stays where it was first inserted.
        db.execute(
            self._sql(
                "INSERT INTO {s}.nodes (workflow_uid, node_id, data, log_path)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (workflow_uid, node_id) DO UPDATE"
                " SET data = excluded.data, log_path = excluded.log_path"
            ),
            (uid, node.id, Jsonb(node.to_argo()), node.log_path),
        )

    def save_node(self, uid: str, node: Node) -> None:
        with self._session() as db:
            self._put_node(db, uid, node)

    def delete_nodes(self, uid: str, node_ids: list[str]) -> None:
        with self._session() as db:
            db.execute(
                self._sql("DELETE FROM {s}.nodes WHERE workflow_uid = %s AND node_id = ANY(%s)"),
                (uid, list(node_ids)),
            )

    def _select(self, where: str, args: tuple[Any, ...]) -> list[WorkflowRecord]:
        """Workflows matching ``where``, newest first, with their nodes in insertion order."""
        with self._session() as db:
            rows = db.execute(
                self._sql(
                    f"SELECT {_COLUMNS} FROM {{s}}.workflows WHERE {where}"
                    " ORDER BY created_at DESC, seq DESC"
                ),
                args,
            ).fetchall()
            node_rows = db.execute(
                self._sql(
                    "SELECT workflow_uid, data, log_path FROM {s}.nodes"
                    " WHERE workflow_uid = ANY(%s) ORDER BY seq"
                ),
                ([r[0] for r in rows],),
            ).fetchall()
        nodes: dict[str, dict[str, Node]] = {}
        for uid, data, log_path in node_rows:
            node = Node.from_argo(data, log_path)
            nodes.setdefault(uid, {})[node.id] = node
        return [
            WorkflowRecord(
                uid=uid,
                namespace=namespace,
                name=name,
                manifest=manifest,
                status=status,
                nodes=nodes.get(uid, {}),
                idempotency_key=key,
            )
            for uid, namespace, name, manifest, status, key in rows
        ]

    def _one(self, where: str, args: tuple[Any, ...]) -> WorkflowRecord | None:
        records = self._select(where, args)
        return records[0] if records else None

    def get(self, namespace: str, name: str) -> WorkflowRecord | None:
        return self._one("namespace = %s AND name = %s", (namespace, name))

    def get_by_uid(self, uid: str) -> WorkflowRecord | None:
        return self._one("uid = %s", (uid,))

    def find_by_key(self, key: str) -> WorkflowRecord | None:
        return self._one("idempotency_key = %s", (key,))

    def list_workflows(self, namespace: str | None = None) -> list[WorkflowRecord]:
        if namespace is None:
            return self._select("TRUE", ())
        return self._select("namespace = %s", (namespace,))

    def list_unfinished(self) -> list[WorkflowRecord]:
        return self._select("phase IN ('Pending', 'Running')", ())

    def delete(self, uid: str) -> None:
        self._write("DELETE FROM {s}.workflows WHERE uid = %s", (uid,))

    # ---- resources ---------------------------------------------------------------------------
    def put_resource(self, kind: str, namespace: str, name: str, manifest: dict[str, Any]) -> None:
        self._write(
            "INSERT INTO {s}.resources AS r (kind, namespace, name, manifest)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (kind, namespace, name) DO UPDATE"
            " SET manifest = excluded.manifest, generation = r.generation + 1",
            (kind, namespace, name, Jsonb(manifest)),
        )

    def get_resource(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._session() as db:
            row = db.execute(
                self._sql(
                    "SELECT manifest, generation FROM {s}.resources"
                    " WHERE kind = %s AND namespace = %s AND name = %s"
                ),
                (kind, namespace, name),
            ).fetchone()
        return with_generation(row[0], int(row[1])) if row else None

    def list_resources(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        where, args = "kind = %s", [kind]
        if namespace is not None:
            where, args = "kind = %s AND namespace = %s", [kind, namespace]
        with self._session() as db:
            rows = db.execute(
                self._sql(
                    f"SELECT manifest, generation FROM {{s}}.resources WHERE {where}"
                    ' ORDER BY name COLLATE "C", namespace COLLATE "C"'  # as SQLite orders
                ),
                args,
            ).fetchall()
        return [with_generation(m, int(g)) for m, g in rows]

    def delete_resource(self, kind: str, namespace: str, name: str) -> bool:
        with self._session() as db:
            cur = db.execute(
                self._sql(
                    "DELETE FROM {s}.resources WHERE kind = %s AND namespace = %s AND name = %s"
                ),
                (kind, namespace, name),
            )
            return cur.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._db.close()
