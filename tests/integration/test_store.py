"""One suite for every WorkflowStore: SQLite on a temporary file, PostgreSQL on a throwaway schema.

The engine relies on these semantics when it restarts and walks its running workflows again, so
both backends must pass the same tests. PostgreSQL is the local server on 127.0.0.1:5432; each
test gets a fresh random schema, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from engine.status import Node, NodeType, Phase, node_id
from engine.store import open_store
from engine.store.base import WorkflowRecord, WorkflowStore
from engine.store.postgres import PostgresStore, mask_dsn
from engine.store.sqlite import SQLiteStore
from sluice.core.errors import ConflictError, TemporaryError
from tests.conftest import free_port
from tests.services import require_service

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_DSN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"

OpenStore = Callable[[], WorkflowStore]


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A schema name no other test uses; dropped with everything in it afterwards."""
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    schema = f"sluice_test_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(PG_DSN, autocommit=True) as db:
        db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgres"], ids=["sqlite", "postgres"])
def open_same(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Opens another store on this test's database; every store opened is closed afterwards."""
    if request.param == "sqlite":

        def factory() -> WorkflowStore:
            return SQLiteStore(tmp_path / "sluice.db")
    else:
        schema = request.getfixturevalue("pg_schema")

        def factory() -> WorkflowStore:
            return PostgresStore(PG_DSN, schema)

    opened: list[WorkflowStore] = []

    def open_one() -> WorkflowStore:
        opened.append(factory())
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_same: OpenStore) -> WorkflowStore:
    return open_same()


def record(
    name: str, namespace: str = "default", key: str | None = None, nodes: list[Node] | None = None
) -> WorkflowRecord:
    return WorkflowRecord(
        uid=str(uuid.uuid4()),
        namespace=namespace,
        name=name,
        manifest={
            "metadata": {"name": name, "namespace": namespace, "labels": {"a": "b"}},
            "spec": {"entrypoint": "main", "templates": [{"name": "main"}]},
        },
        status={"phase": "Pending"},
        nodes={n.id: n for n in nodes or []},
        idempotency_key=key,
    )


def full_node(workflow: str, name: str, **changes: object) -> Node:
    """A node with every field set, extra keys included, so a round trip misses nothing."""
    node = Node(
        id=node_id(workflow, name),
        name=name,
        display_name=name.rsplit(".", 1)[-1],
        type=NodeType.POD,
        template_name="echo",
        phase=Phase.SUCCEEDED,
        boundary_id=workflow,
        message="done: ünïcode",
        started_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        finished_at=datetime(2024, 1, 2, 3, 4, 9, tzinfo=UTC),
        children=[f"{workflow}-1", f"{workflow}-2"],
        inputs={"parameters": [{"name": "x", "value": "1"}]},
        outputs={"parameters": [{"name": "y", "value": "2"}], "exitCode": "0", "result": "hi"},
        pod_name=f"{workflow}-echo-1",
        host_node_name="local",
        log_path=f"/data/pods/{workflow}/{name}.log",
        extra={
            "outboundNodes": [f"{workflow}-3"],
            "resourcesDuration": {"cpu": 1, "memory": 2},
            "estimatedDuration": 3.5,
            "progress": "1/1",
        },
    )
    for field, value in changes.items():
        setattr(node, field, value)
    return node


def test_create_then_get_and_get_by_uid(store: WorkflowStore) -> None:
    wf = record("hello", nodes=[full_node("hello", "hello")])
    store.create(wf)
    got = store.get("default", "hello")
    assert got == wf
    assert store.get_by_uid(wf.uid) == wf
    assert got.to_argo() == wf.to_argo()


def test_missing_workflows_are_none(store: WorkflowStore) -> None:
    store.create(record("hello"))
    assert store.get("other", "hello") is None
    assert store.get("default", "nope") is None
    assert store.get_by_uid("nope") is None
    assert store.find_by_key("nope") is None
    assert store.generation("nope") == -1


def test_duplicate_name_in_a_namespace_conflicts(store: WorkflowStore) -> None:
    first = record("hello")
    store.create(first)
    with pytest.raises(ConflictError, match="default/hello"):
        store.create(record("hello"))
    store.create(record("hello", namespace="other"))
    assert store.get("default", "hello") == first
    assert len(store.list_workflows()) == 2


def test_idempotency_key_finds_and_is_unique(store: WorkflowStore) -> None:
    keyed = record("a", key="event-1")
    store.create(keyed)
    store.create(record("b"))
    store.create(record("c"))  # no key twice is not a duplicate
    assert store.find_by_key("event-1") == keyed
    with pytest.raises(ConflictError):
        store.create(record("d", key="event-1"))
    assert store.get("default", "d") is None


def test_save_node_upserts_in_insertion_order_and_round_trips(store: WorkflowStore) -> None:
    wf = record("flow")
    store.create(wf)
    names = ["flow", "flow[0]", "flow[0].b", "flow[0].a"]
    first = [full_node("flow", n, phase=Phase.RUNNING, finished_at=None) for n in names]
    for node in first:
        store.save_node(wf.uid, node)
    done = full_node("flow", "flow", message="", children=[], log_path="/elsewhere.log")
    store.save_node(wf.uid, done)
    got = store.get_by_uid(wf.uid)
    assert got is not None
    assert list(got.nodes) == [n.id for n in first]
    assert got.nodes == {n.id: n for n in [done, *first[1:]]}
    assert got.nodes[done.id].log_path == "/elsewhere.log"
    assert got.nodes[first[1].id].extra["outboundNodes"] == ["flow-3"]


def test_save_status_moves_a_workflow_out_of_unfinished(store: WorkflowStore) -> None:
    pending, running, done = record("p"), record("r"), record("d")
    for wf in (pending, running, done):
        store.create(wf)
    store.save_status(running.uid, {"phase": "Running", "startedAt": "2024-01-02T03:04:05Z"})
    store.save_status(done.uid, {"phase": "Succeeded", "progress": "1/1"})
    assert {r.name for r in store.list_unfinished()} == {"p", "r"}
    got = store.get_by_uid(done.uid)
    assert got is not None
    assert got.status == {"phase": "Succeeded", "progress": "1/1"}
    assert got.phase == "Succeeded"
    store.save_status(done.uid, {})
    assert {r.name for r in store.list_unfinished()} == {"p", "r", "d"}


def test_save_manifest_bumps_generation(store: WorkflowStore) -> None:
    wf = record("hello")
    store.create(wf)
    assert store.generation(wf.uid) == 0
    manifest = {**wf.manifest, "spec": {**wf.manifest["spec"], "suspend": True}}
    store.save_manifest(wf.uid, manifest)
    store.save_manifest(wf.uid, manifest)
    assert store.generation(wf.uid) == 2
    got = store.get_by_uid(wf.uid)
    assert got is not None
    assert got.manifest == manifest


def test_list_workflows_by_namespace_newest_first(store: WorkflowStore) -> None:
    for name, namespace in [("a", "ns1"), ("b", "ns1"), ("x", "ns2"), ("c", "ns1")]:
        store.create(record(name, namespace=namespace))
    assert [r.name for r in store.list_workflows("ns1")] == ["c", "b", "a"]
    assert [r.name for r in store.list_workflows("ns2")] == ["x"]
    assert [r.name for r in store.list_workflows()] == ["c", "x", "b", "a"]
    assert store.list_workflows("none") == []


def test_delete_cascades_to_nodes(store: WorkflowStore) -> None:
    wf = record("hello", nodes=[full_node("hello", "hello"), full_node("hello", "hello[0]")])
    store.create(wf)
    store.delete(wf.uid)
    assert store.get_by_uid(wf.uid) is None
    assert store.list_workflows() == []
    again = WorkflowRecord(uid=wf.uid, namespace="default", name="hello", manifest=wf.manifest)
    store.create(again)  # the same uid again finds no node left behind
    got = store.get_by_uid(wf.uid)
    assert got is not None
    assert got.nodes == {}


def test_two_stores_see_each_others_writes(open_same: OpenStore) -> None:
    one, two = open_same(), open_same()
    wf = record("shared", key="k")
    one.create(wf)
    assert two.find_by_key("k") == wf
    node = full_node("shared", "shared")
    two.save_node(wf.uid, node)
    two.save_manifest(wf.uid, {"metadata": {"name": "shared"}})
    got = one.get("default", "shared")
    assert got is not None
    assert got.nodes == {node.id: node}
    assert one.generation(wf.uid) == 1
    with pytest.raises(ConflictError):
        two.create(record("shared"))
    one.delete(wf.uid)
    assert two.get_by_uid(wf.uid) is None


def template(name: str, namespace: str = "default", **spec: object) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name, "namespace": namespace, "labels": {"ü": "ñ"}},
        "spec": {"templates": [{"name": "main", "container": {"image": "a"}}], **spec},
    }


def test_put_then_get_resource_round_trips_with_generation_1(store: WorkflowStore) -> None:
    manifest = template("lib")
    store.put_resource("WorkflowTemplate", "default", "lib", manifest)
    got = store.get_resource("WorkflowTemplate", "default", "lib")
    assert got == {**manifest, "metadata": {**manifest["metadata"], "generation": 1}}


def test_put_resource_replaces_and_bumps_generation(store: WorkflowStore) -> None:
    store.put_resource("WorkflowTemplate", "default", "lib", template("lib"))
    changed = template("lib", entrypoint="main")
    store.put_resource("WorkflowTemplate", "default", "lib", changed)
    store.put_resource("WorkflowTemplate", "default", "lib", changed)
    got = store.get_resource("WorkflowTemplate", "default", "lib")
    assert got is not None
    assert got["spec"]["entrypoint"] == "main"
    assert got["metadata"]["generation"] == 3
    store.put_resource("WorkflowTemplate", "other", "lib", template("lib", "other"))
    other = store.get_resource("WorkflowTemplate", "other", "lib")
    assert other is not None and other["metadata"]["generation"] == 1  # per resource


def test_resources_are_keyed_by_kind_namespace_and_name(store: WorkflowStore) -> None:
    store.put_resource("WorkflowTemplate", "default", "x", template("x"))
    store.put_resource("CronWorkflow", "default", "x", {"kind": "CronWorkflow"})
    store.put_resource("ClusterWorkflowTemplate", "", "x", {"kind": "ClusterWorkflowTemplate"})
    assert store.get_resource("WorkflowTemplate", "other", "x") is None
    assert store.get_resource("WorkflowTemplate", "default", "y") is None
    assert store.get_resource("Sensor", "default", "x") is None
    cron = store.get_resource("CronWorkflow", "default", "x")
    assert cron == {"kind": "CronWorkflow", "metadata": {"generation": 1}}
    assert store.get_resource("ClusterWorkflowTemplate", "", "x") is not None
    assert store.get_resource("ClusterWorkflowTemplate", "default", "x") is None


def test_list_resources_by_kind_and_namespace_ordered_by_name(store: WorkflowStore) -> None:
    for name, namespace in [("b", "ns1"), ("a", "ns2"), ("C", "ns1"), ("a-b", "ns1"), ("a", "ns1")]:
        store.put_resource("WorkflowTemplate", namespace, name, template(name, namespace))
    store.put_resource("CronWorkflow", "ns1", "cron", {"metadata": {"name": "cron"}})

    def names(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(i["metadata"]["name"], i["metadata"]["namespace"]) for i in items]

    assert names(store.list_resources("WorkflowTemplate", "ns1")) == [
        ("C", "ns1"), ("a", "ns1"), ("a-b", "ns1"), ("b", "ns1"),
    ]  # fmt: skip
    assert names(store.list_resources("WorkflowTemplate")) == [
        ("C", "ns1"), ("a", "ns1"), ("a", "ns2"), ("a-b", "ns1"), ("b", "ns1"),
    ]  # fmt: skip
    assert [c["metadata"]["name"] for c in store.list_resources("CronWorkflow")] == ["cron"]
    assert store.list_resources("WorkflowTemplate", "none") == []
    assert store.list_resources("Sensor") == []


def test_delete_resource_says_whether_there_was_one(store: WorkflowStore) -> None:
    store.put_resource("WorkflowTemplate", "default", "lib", template("lib"))
    store.put_resource("WorkflowTemplate", "other", "lib", template("lib", "other"))
    assert store.delete_resource("WorkflowTemplate", "default", "lib") is True
    assert store.delete_resource("WorkflowTemplate", "default", "lib") is False
    assert store.delete_resource("CronWorkflow", "other", "lib") is False
    assert store.get_resource("WorkflowTemplate", "default", "lib") is None
    assert store.get_resource("WorkflowTemplate", "other", "lib") is not None
    store.put_resource("WorkflowTemplate", "default", "lib", template("lib"))
    again = store.get_resource("WorkflowTemplate", "default", "lib")
    assert again is not None and again["metadata"]["generation"] == 1  # a new resource


def test_two_stores_see_each_others_resources(open_same: OpenStore) -> None:
    one, two = open_same(), open_same()
    one.put_resource("WorkflowTemplate", "default", "lib", template("lib"))
    two.put_resource("WorkflowTemplate", "default", "lib", template("lib", entrypoint="main"))
    got = one.get_resource("WorkflowTemplate", "default", "lib")
    assert got is not None and got["metadata"]["generation"] == 2
    assert got["spec"]["entrypoint"] == "main"
    assert two.delete_resource("WorkflowTemplate", "default", "lib")
    assert one.list_resources("WorkflowTemplate") == []


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "sluice.db"))
    try:
        assert isinstance(store, SQLiteStore)
    finally:
        store.close()
    url = f"postgres://u:pw@127.0.0.1:{free_port()}/test"
    with pytest.raises(TemporaryError, match="PostgreSQL"):
        open_store(url)  # nobody listens there: it was PostgresStore that tried


def test_unreachable_postgres_is_temporary_and_hides_the_password() -> None:
    port = free_port()
    with pytest.raises(TemporaryError) as caught:
        PostgresStore(f"postgresql://sluice:hunter2@127.0.0.1:{port}/test")
    message = str(caught.value)
    assert f"postgresql://sluice:***@127.0.0.1:{port}/test" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgres://u@h/db", "postgres://u@h/db"),
        ("postgresql://:pw@h/db", "postgresql://:***@h/db"),
        ("postgresql://h/db?user=u&password=pw&sslmode=off", "postgresql://h/db?user=u&password=***&sslmode=off"),
        ("host=h user=u password=pw dbname=d", "host=h user=u password=*** dbname=d"),
        ("host=h password = 'p w\\'x' dbname=d", "host=h password = *** dbname=d"),
    ],
    ids=["url", "url-no-password", "url-no-user", "url-query", "keywords", "keywords-quoted"],
)  # fmt: skip
def test_mask_dsn(dsn: str, masked: str) -> None:
    assert mask_dsn(dsn) == masked


def test_postgres_store_reconnects_after_the_server_drops_it(pg_schema: str) -> None:
    app = f"sluice-test-{uuid.uuid4().hex[:8]}"
    store = PostgresStore(f"{PG_DSN}?application_name={app}", pg_schema)
    try:
        store.create(record("hello"))
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (app,),
            )
        with pytest.raises(TemporaryError):
            store.get("default", "hello")
        got = store.get("default", "hello")
        assert got is not None
        assert got.name == "hello"
    finally:
        store.close()


def test_delete_nodes(store: WorkflowStore) -> None:
    rec = record("del-nodes")
    store.create(rec)
    for i in range(3):
        store.save_node(rec.uid, Node(id=f"n{i}", name=f"n{i}", display_name=f"n{i}",
                                      type=NodeType.POD))  # fmt: skip
    store.delete_nodes(rec.uid, ["n0", "n2"])
    got = store.get_by_uid(rec.uid)
    assert got is not None and list(got.nodes) == ["n1"]


def test_config_selects_the_postgres_store(tmp_path: Path) -> None:
    from sluice.app import build_engine
    from sluice.config import load_settings

    require_service("PostgreSQL", "127.0.0.1", 5432)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "persistence:\n  postgresql:\n    host: 127.0.0.1\n    port: 5432\n    database: test\n"
        "    userNameSecret: {name: pg, key: user}\n"
    )
    (tmp_path / "secrets" / "pg").mkdir(parents=True)
    (tmp_path / "secrets" / "pg" / "user").write_text("postgres\n")
    engine = build_engine(load_settings(str(tmp_path), str(cfg)))
    try:
        assert isinstance(engine.store, PostgresStore)
    finally:
        engine.store.close()
