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
import uuid
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

from tests.support.gcs_emulator import GCS, gcs, notification  # noqa: F401
from tests.support.pubsub_emulator import PubSubEmulator, pubsub_emulator  # noqa: F401
from tests.support.recipes import EXAMPLES, finished, handler_phases, parameter, running, tries

pytestmark = pytest.mark.timeout(120)

TOPIC = "projects/sluice-demo/topics/gcs-uploads"  # as eventsource.yaml names it


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
    publisher = pubsub_v1.PublisherClient()
    try:
        async with running(EXAMPLES / "gcs-to-workflow", tmp_path / "data", nats_url) as up:

            def upload(name: str, content: bytes) -> None:
                data, attributes = notification(gcs.upload(bucket, name, content))
                publisher.publish(TOPIC, data, **attributes).result(timeout=10)

            upload("incoming/", b"")  # the folder placeholder a console upload creates
            upload("incoming/orders.json", json.dumps([{"id": 1}, {"id": 2}]).encode())
            upload("incoming/broken.json", b'[{"id": 1},')
            upload("incoming/orders.csv", b"id\n1\n")
            runs = {parameter(wf, 0): wf for wf in await finished(up, 2)}
            await asyncio.sleep(1)  # nothing else fires
            assert len(up.engine.list_workflows("default")) == 2
    finally:
        publisher.transport.close()

    assert sorted(runs) == ["incoming/broken.json", "incoming/orders.json"]
    good, bad = runs["incoming/orders.json"], runs["incoming/broken.json"]
    assert good["status"]["phase"] == "Succeeded"
    assert tries(good, "load") == 1
    assert handler_phases(good) == ["Skipped"]
    assert parameter(good, 1).startswith(gcs.url) and "orders.json" in parameter(good, 1)

    assert bad["status"]["phase"] == "Failed"
    assert tries(bad, "load") == 3  # the first try and two retries, 3 s and 6 s apart
    assert handler_phases(bad) == ["Succeeded"]
