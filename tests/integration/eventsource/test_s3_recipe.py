"""The S3 recipe end to end: ``sluice up examples/s3-to-workflow`` as shipped, against moto.

moto (in server mode) holds the bucket and the queue; the bucket's notification configuration
sends ``s3:ObjectCreated:*`` to the queue, so a ``put_object`` is all the test does. The sensor
runs load-s3-object with the object's key, whose step reads the object with boto3 (settings
from the ``aws`` secret and config map): a good file succeeds without the failure handler, a
broken one is retried twice and fails with notify-failure run, and a folder placeholder or a
CSV fires nothing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.moto_server import REGION, aws_env, moto_server  # noqa: F401
from tests.support.recipes import EXAMPLES, finished, handler_phases, parameter, running, tries

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("aws_env")]

QUEUE = "s3-uploads"  # as eventsource.yaml names it


def write(folder: Path, values: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    for key, value in values.items():
        (folder / key).write_text(value)


def notify_queue(s3: Any, sqs: Any, bucket: str) -> None:
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn["QueueArn"], "Events": ["s3:ObjectCreated:*"]}]
        },
    )


async def test_uploads_run_the_pipeline(
    tmp_path: Path,
    nats_url: str,
    moto_server: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)  # for the EventSource, as boto3 reads it
    data = tmp_path / "data"
    write(data / "secrets" / "aws", {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "x"})
    write(
        data / "configmaps" / "aws",
        {"AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": moto_server},
    )
    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    bucket = f"landing-{uuid.uuid4().hex[:8]}"
    notify_queue(s3, sqs, bucket)
    async with running(EXAMPLES / "s3-to-workflow", data, nats_url) as up:
        s3.put_object(Bucket=bucket, Key="incoming/", Body=b"")
        s3.put_object(Bucket=bucket, Key="incoming/orders.json", Body=json.dumps([{"id": 1}]))
        s3.put_object(Bucket=bucket, Key="incoming/broken.json", Body=b'[{"id": 1},')
        s3.put_object(Bucket=bucket, Key="incoming/orders.csv", Body=b"id\n1\n")
        runs = {parameter(wf, 0): wf for wf in await finished(up, 2)}
        await asyncio.sleep(1)  # nothing else fires
        assert len(up.engine.list_workflows("default")) == 2

    # S3 URL-encodes keys in its events (moto encodes "/" too); the template decodes them
    by_name = {key.replace("%2F", "/"): wf for key, wf in runs.items()}
    assert sorted(by_name) == ["incoming/broken.json", "incoming/orders.json"]
    good, bad = by_name["incoming/orders.json"], by_name["incoming/broken.json"]
    assert parameter(good, 1) == bucket
    assert good["status"]["phase"] == "Succeeded"
    assert tries(good, "load") == 1
    assert handler_phases(good) == ["Skipped"]
    assert bad["status"]["phase"] == "Failed"
    assert tries(bad, "load") == 3  # the first try and two retries, 3 s and 6 s apart
    assert handler_phases(bad) == ["Succeeded"]
