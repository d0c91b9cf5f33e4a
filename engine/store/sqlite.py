"""The default WorkflowStore: one SQLite file under the data directory.

WAL mode and one connection per store; each write is its own short transaction, so a node's
state is on disk before the engine acts on it, and readers in other processes (the CLI while a
server runs) see consistent data.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from engine.status import Node
from engine.store.base import WorkflowRecord, with_generation
from sluice.core.errors import ConflictError

SCHEMA = """
CREATE TABLE IF NOT EXISTS workflows (
    uid TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    manifest TEXT NOT NULL,
    status TEXT NOT NULL,
    phase TEXT NOT NULL DEFAULT 'Pending',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    idempotency_key TEXT UNIQUE,
    generation INTEGER NOT NULL DEFAULT 0,
    UNIQUE (namespace, name)
);
CREATE TABLE IF NOT EXISTS nodes (
    workflow_uid TEXT NOT NULL REFERENCES workflows(uid) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    data TEXT NOT NULL,
    log_path TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (workflow_uid, node_id)
);
CREATE INDEX IF NOT EXISTS workflows_phase ON workflows(phase);
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    manifest TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (kind, namespace, name)
);
"""


class SQLiteStore:
    """WorkflowStore on SQLite."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        with self._lock, self._db:
            self._db.execute(sql, args)

    def create(self, record: WorkflowRecord) -> None:
        try:
            with self._lock, self._db:
                self._db.execute(
                    "INSERT INTO workflows (uid, namespace, name, manifest, status, phase,"
                    " idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.uid,
                        record.namespace,
                        record.name,
                        json.dumps(record.manifest),
                        json.dumps(record.status),
                        record.phase,
                        record.idempotency_key,
                    ),
                )
                for node in record.nodes.values():
                    self._put_node(record.uid, node)
        except sqlite3.IntegrityError as exc:
            raise ConflictError(
                f"workflow {record.namespace}/{record.name} cannot be created: {exc}"
            ) from exc

    def save_manifest(self, uid: str, manifest: dict[str, Any]) -> None:
        """Store a changed manifest; the generation tells its running owner to look again."""
        self._write(
            "UPDATE workflows SET manifest = ?, generation = generation + 1 WHERE uid = ?",
            (json.dumps(manifest), uid),
        )

    def generation(self, uid: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT generation FROM workflows WHERE uid = ?", (uid,)
            ).fetchone()
        return int(row[0]) if row else -1

    def save_status(self, uid: str, status: dict[str, Any]) -> None:
        self._write(
            "UPDATE workflows SET status = ?, phase = ? WHERE uid = ?",
            (json.dumps(status), status.get("phase") or "Pending", uid),
        )

    def _put_node(self, uid: str, node: Node) -> None:
        self._db.execute(
            "INSERT INTO nodes (workflow_uid, node_id, data, log_path) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (workflow_uid, node_id) DO UPDATE SET data = excluded.data,"
            " log_path = excluded.log_path",
            (uid, node.id, json.dumps(node.to_argo()), node.log_path),
        )

    def delete_nodes(self, uid: str, node_ids: list[str]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "DELETE FROM nodes WHERE workflow_uid = ? AND node_id = ?",
                [(uid, nid) for nid in node_ids],
            )

    def save_node(self, uid: str, node: Node) -> None:
        with self._lock, self._db:
            self._put_node(uid, node)

    def _record(self, row: tuple[Any, ...]) -> WorkflowRecord:
        uid, namespace, name, manifest, status, key = row
        with self._lock:
            rows = self._db.execute(
                "SELECT data, log_path FROM nodes WHERE workflow_uid = ? ORDER BY rowid", (uid,)
            ).fetchall()
        nodes = {}
        for data, log_path in rows:
            node = Node.from_argo(json.loads(data), log_path)
            nodes[node.id] = node
        return WorkflowRecord(
            uid=uid,
            namespace=namespace,
            name=name,
            manifest=json.loads(manifest),
            status=json.loads(status),
            nodes=nodes,
            idempotency_key=key,
        )

    _COLUMNS = "uid, namespace, name, manifest, status, idempotency_key"

    def _one(self, where: str, args: tuple[Any, ...]) -> WorkflowRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._COLUMNS} FROM workflows WHERE {where}", args
            ).fetchone()
        return self._record(row) if row else None

    def _many(self, where: str, args: tuple[Any, ...]) -> list[WorkflowRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLUMNS} FROM workflows WHERE {where} ORDER BY created_at DESC,"
                " rowid DESC",
                args,
            ).fetchall()
        return [self._record(r) for r in rows]

    def get(self, namespace: str, name: str) -> WorkflowRecord | None:
        return self._one("namespace = ? AND name = ?", (namespace, name))

    def get_by_uid(self, uid: str) -> WorkflowRecord | None:
        return self._one("uid = ?", (uid,))

    def find_by_key(self, key: str) -> WorkflowRecord | None:
        return self._one("idempotency_key = ?", (key,))

    def list_workflows(self, namespace: str | None = None) -> list[WorkflowRecord]:
        if namespace is None:
            return self._many("1 = 1", ())
        return self._many("namespace = ?", (namespace,))

    def list_unfinished(self) -> list[WorkflowRecord]:
        return self._many("phase IN ('Pending', 'Running')", ())

    def delete(self, uid: str) -> None:
        self._write("DELETE FROM workflows WHERE uid = ?", (uid,))

    # ---- resources ---------------------------------------------------------------------------
    def put_resource(self, kind: str, namespace: str, name: str, manifest: dict[str, Any]) -> None:
        self._write(
            "INSERT INTO resources (kind, namespace, name, manifest) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (kind, namespace, name) DO UPDATE SET manifest = excluded.manifest,"
            " generation = resources.generation + 1",
            (kind, namespace, name, json.dumps(manifest)),
        )

    def get_resource(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT manifest, generation FROM resources"
                " WHERE kind = ? AND namespace = ? AND name = ?",
                (kind, namespace, name),
            ).fetchone()
        return with_generation(json.loads(row[0]), row[1]) if row else None

    def list_resources(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        where, args = "kind = ?", [kind]
        if namespace is not None:
            where, args = "kind = ? AND namespace = ?", [kind, namespace]
        with self._lock:
            rows = self._db.execute(
                f"SELECT manifest, generation FROM resources WHERE {where}"
                " ORDER BY name, namespace",
                args,
            ).fetchall()
        return [with_generation(json.loads(m), g) for m, g in rows]

    def delete_resource(self, kind: str, namespace: str, name: str) -> bool:
        with self._lock, self._db:
            cur = self._db.execute(
                "DELETE FROM resources WHERE kind = ? AND namespace = ? AND name = ?",
                (kind, namespace, name),
            )
        return cur.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
