"""The GCS recipe end to end: ``sluice up examples/gcs-to-workflow`` as shipped.

A JSON object uploaded to a local GCS (gcp-storage-emulator) produces the notification GCS
would publish, sent in GCS's format to the Pub/Sub emulator that the real client reads over
gRPC. The sensor runs the load-object template with the object's name, which downloads the
object: a good file succeeds without the failure handler, a broken one is retried twice (3 s,
then 6 s) and then fails with notify-failure run, and a folder placeholder fires nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.cloud import pubsub_v1

from sluice.config import load_settings
from sluice.up import Up, UpOptions
from tests.support.gcs_emulator import GCS, gcs, notification  # noqa: F401
from tests.support.pubsub_emulator import PubSubEmulator, pubsub_emulator  # noqa: F401

pytestmark = pytest.mark.timeout(120)

RECIPE = Path(__file__).parents[3] / "examples" / "gcs-to-workflow"
TOPIC = "projects/sluice-demo/topics/gcs-uploads"  # as eventsource.yaml names it


def nodes_named(workflow: dict[str, Any], name: str) -> list[dict[str, Any]]:
    nodes = workflow["status"].get("nodes", {}).values()
    return [n for n in nodes if n.get("displayName") == name]


async def finished(up: Up, n: int, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while len(found := up.engine.list_workflows("default")) < n:
        assert time.monotonic() < deadline, f"{len(found)} of {n} workflows after {timeout}s"
        await asyncio.sleep(0.1)
    return [await up.engine.wait("default", wf["metadata"]["name"]) for wf in found]


async def test_uploads_run_the_pipeline(
    tmp_path: Path,
    nats_url: str,
    gcs: GCS,  # noqa: F811
    pubsub_emulator: PubSubEmulator,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    bucket = f"landing-{uuid.uuid4().hex[:8]}"
    gcs.create_bucket(bucket)
    up = Up(
        load_settings(str(tmp_path / "data")),
        UpOptions(paths=[str(RECIPE)], port=0, eventbus=nats_url, webhook_host="127.0.0.1"),
    )
    await up.start()
    publisher = pubsub_v1.PublisherClient()
    try:

        def upload(name: str, content: bytes) -> None:
            data, attributes = notification(gcs.upload(bucket, name, content))
            publisher.publish(TOPIC, data, **attributes).result(timeout=10)

        upload("incoming/", b"")  # the folder placeholder a console upload creates
        upload("incoming/orders.json", json.dumps([{"id": 1}, {"id": 2}]).encode())
        upload("incoming/broken.json", b'[{"id": 1},')
        upload("incoming/orders.csv", b"id\n1\n")
        runs = {
            wf["spec"]["arguments"]["parameters"][0]["value"]: wf for wf in await finished(up, 2)
        }
        await asyncio.sleep(1)  # nothing else fires
        assert len(up.engine.list_workflows("default")) == 2
    finally:
        publisher.transport.close()
        await up.stop()

    assert sorted(runs) == ["incoming/broken.json", "incoming/orders.json"]
    good, bad = runs["incoming/orders.json"], runs["incoming/broken.json"]
    assert good["status"]["phase"] == "Succeeded"
    [load] = [n for n in nodes_named(good, "load") if n["type"] == "Retry"]
    assert len(load.get("children", [])) == 1  # no retry needed
    assert [n["phase"] for n in nodes_named(good, "notify-failure")] == ["Skipped"]
    media = good["spec"]["arguments"]["parameters"][1]["value"]
    assert media.startswith(gcs.url) and "orders.json" in media

    assert bad["status"]["phase"] == "Failed"
    [load] = [n for n in nodes_named(bad, "load") if n["type"] == "Retry"]
    assert len(load["children"]) == 3  # the first try and two retries
    assert [n["phase"] for n in nodes_named(bad, "notify-failure")] == ["Succeeded"]
