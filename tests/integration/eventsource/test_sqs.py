"""The sqs source with the real boto3 against moto in server mode, publishing to a real
nats-server: messages become events in Argo's shape and are deleted only once stored, and an
S3 upload reaches the bus through a bucket notification (directly, and through SNS)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest

from eventbus.jetstream import JetStreamBus
from eventsource.adaptor import Adaptor, RetryPolicy, event_options
from eventsource.models import parse_event_source
from eventsource.secrets import LocalSecrets
from eventsource.sources.sqs import SQSSource
from sluice.core.errors import SpecError
from sluice.core.supervise import RestartPolicy, ServiceState
from tests.support.moto_server import REGION, aws_env, moto_server  # noqa: F401

SOURCE = "sqs-es"
EVENT = "uploads"
FAST = RestartPolicy(initial=0.05, factor=2.0, cap=0.2)


@pytest.fixture
def endpoint(moto_server: str, aws_env: None) -> str:  # noqa: F811
    return moto_server


@pytest.fixture
def sqs(endpoint: str) -> Iterator[Any]:
    client = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
    yield client
    client.close()


@pytest.fixture
def queue(sqs: Any) -> tuple[str, str]:
    """A new queue: its name and URL."""
    name = f"q-{uuid.uuid4().hex[:12]}"
    return name, sqs.create_queue(QueueName=name)["QueueUrl"]


def event_source(endpoint: str, queue: str, **event: Any) -> Any:
    spec = {"region": REGION, "queue": queue, "endpoint": endpoint, "waitTimeSeconds": 1}
    return parse_event_source(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": SOURCE},
            "spec": {"sqs": {EVENT: {**spec, **event}}},
        }
    )


def in_queue(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(found[names[0]]), int(found[names[1]])


async def read_events(
    bus: JetStreamBus, namespace: str, n: int, timeout: float = 10
) -> list[dict[str, Any]]:
    consumer = await bus.subscribe(bus.subject(namespace, SOURCE, EVENT), "t-sqs")
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        for msg in await consumer.fetch(n - len(got), timeout=0.5):
            await msg.ack()
            got.append(json.loads(msg.data))
    await consumer.close()
    return got


async def until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


class CheckingAdaptor(Adaptor):
    """Records, just after the bus stored each event, how many messages the queue holds."""

    def __init__(self, *args: Any, sqs: Any, url: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sqs, self.url = sqs, url
        self.after_store: list[tuple[int, int]] = []

    async def dispatch(self, *args: Any, **kwargs: Any) -> str | None:
        event_id = await super().dispatch(*args, **kwargs)
        self.after_store.append(await asyncio.to_thread(in_queue, self.sqs, self.url))
        return event_id


async def test_a_message_becomes_an_event_and_is_deleted_after_it_is_stored(
    bus: JetStreamBus, namespace: str, endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    adaptor = CheckingAdaptor(bus, namespace, SOURCE, sqs=sqs, url=url)
    source = SQSSource(event_source(endpoint, name, metadata={"team": "data"}), adaptor)
    await source.start()
    try:
        sent = sqs.send_message(
            QueueUrl=url,
            MessageBody="plain text, not JSON",
            MessageAttributes={
                "kind": {"DataType": "String", "StringValue": "upload"},
                "size": {"DataType": "Number", "StringValue": "42"},
                "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
            },
        )
        [event] = await read_events(bus, namespace, 1)
        await until(lambda: source.counts()[EVENT]["deleted"] == 1)
    finally:
        await source.stop()
    assert adaptor.after_store == [(0, 1)]  # stored while the message was still in the queue
    assert in_queue(sqs, url) == (0, 0)
    assert event["id"] == adaptor.upstream_id(EVENT, sent["MessageId"])  # so is a redelivery
    assert (event["type"], event["source"], event["subject"]) == ("sqs", SOURCE, EVENT)

    def attribute(data_type: str, string: str | None = None, binary: str | None = None) -> Any:
        return {
            "BinaryListValues": None,
            "BinaryValue": binary,
            "DataType": data_type,
            "StringListValues": None,
            "StringValue": string,
        }

    assert event["data"] == {
        "messageId": sent["MessageId"],
        "messageAttributes": {
            "kind": attribute("String", string="upload"),
            "size": attribute("Number", string="42"),
            "raw": attribute("Binary", binary=base64.b64encode(b"\x00\x01").decode()),
        },
        "body": base64.b64encode(b"plain text, not JSON").decode(),  # Go's []byte
        "metadata": {"team": "data"},
    }


async def test_json_body_and_a_malformed_message_is_deleted_unless_dlq(
    bus: JetStreamBus, namespace: str, endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    source = SQSSource(event_source(endpoint, name, jsonBody=True), Adaptor(bus, namespace, SOURCE))
    await source.start()
    try:
        sqs.send_message(QueueUrl=url, MessageBody="{not json")
        await until(lambda: source.counts()[EVENT]["deleted"] == 1)
        sqs.send_message(QueueUrl=url, MessageBody='{"n": 1, "tags": ["a"]}')
        events = await read_events(bus, namespace, 2, timeout=1)
        await until(lambda: source.counts()[EVENT]["deleted"] == 2)
    finally:
        await source.stop()
    assert [e["data"]["body"] for e in events] == [{"n": 1, "tags": ["a"]}]
    assert events[0]["data"]["messageAttributes"] is None  # Go's nil map
    assert "metadata" not in events[0]["data"]
    assert in_queue(sqs, url) == (0, 0)


async def test_with_dlq_a_malformed_message_goes_to_the_dead_letter_queue(
    bus: JetStreamBus, namespace: str, endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    dlq_url = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    source = SQSSource(
        event_source(endpoint, name, jsonBody=True, dlq=True),
        Adaptor(bus, namespace, SOURCE),
        visibility_timeout=1,
    )
    await source.start()
    try:
        sent = sqs.send_message(QueueUrl=url, MessageBody="<xml/>")
        await until(lambda: in_queue(sqs, dlq_url)[0] == 1, timeout=15)
    finally:
        await source.stop()
    counts = source.counts()[EVENT]
    assert counts["kept"] == 1 and counts["deleted"] == 0
    [dead] = sqs.receive_message(QueueUrl=dlq_url)["Messages"]
    assert dead["MessageId"] == sent["MessageId"]


async def test_kept_while_the_bus_cannot_store_it_then_stored_once(
    nats_url: str, endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    namespace = f"ns-{uuid.uuid4().hex[:10]}"
    bus = JetStreamBus()
    await bus.connect(nats_url)  # no stream for the namespace yet: every publish fails
    adaptor = Adaptor(bus, namespace, SOURCE, retry=RetryPolicy(duration=0.05, steps=1))
    source = SQSSource(event_source(endpoint, name, jsonBody=True), adaptor, visibility_timeout=1)
    await source.start()
    try:
        sent = sqs.send_message(QueueUrl=url, MessageBody='{"n": 1}')
        await until(lambda: source.counts()[EVENT]["kept"] >= 2)  # kept, redelivered, kept
        assert source.counts()[EVENT]["deleted"] == 0
        assert sum(in_queue(sqs, url)) == 1
        await bus.ensure_stream(namespace)
        await until(lambda: source.counts()[EVENT]["deleted"] == 1, timeout=15)
        events = await read_events(bus, namespace, 2, timeout=1)
    finally:
        await source.stop()
        await bus.close()
    stored_once = [(adaptor.upstream_id(EVENT, sent["MessageId"]), {"n": 1})]
    assert [(e["id"], e["data"]["body"]) for e in events] == stored_once
    assert in_queue(sqs, url) == (0, 0)


async def test_a_filtered_out_message_is_deleted(
    bus: JetStreamBus, namespace: str, endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    resource = event_source(endpoint, name, jsonBody=True, filter={"expression": "body.n > 1"})
    options = event_options(SOURCE, "sqs", resource.spec.sqs)
    source = SQSSource(resource, Adaptor(bus, namespace, SOURCE, options=options))
    await source.start()
    try:
        sqs.send_message(QueueUrl=url, MessageBody='{"n": 1}')
        sqs.send_message(QueueUrl=url, MessageBody='{"n": 2}')
        await until(lambda: source.counts()[EVENT]["deleted"] == 2)
        events = await read_events(bus, namespace, 2, timeout=1)
    finally:
        await source.stop()
    assert [e["data"]["body"] for e in events] == [{"n": 2}]


def write_secret(data_dir: Path, name: str, values: Mapping[str, str]) -> None:
    folder = data_dir / "secrets" / name
    folder.mkdir(parents=True)
    for key, value in values.items():
        (folder / key).write_text(value + "\n")


async def test_credentials_from_local_secrets(
    bus: JetStreamBus,
    namespace: str,
    endpoint: str,
    sqs: Any,
    queue: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, url = queue
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable)  # the secrets are the only credentials there are
    write_secret(tmp_path, "aws", {"id": "AKIDSECRETS", "key": "s3cret", "token": "tok"})
    resource = event_source(
        endpoint,
        name,
        accessKey={"name": "aws", "key": "id"},
        secretKey={"name": "aws", "key": "key"},
        sessionToken={"name": "aws", "key": "token"},
    )
    source = SQSSource(resource, Adaptor(bus, namespace, SOURCE), secrets=LocalSecrets(tmp_path))
    assert source.queues[0].session_kwargs()["aws_access_key_id"] == "AKIDSECRETS"
    await source.start()
    try:
        sqs.send_message(QueueUrl=url, MessageBody="hi")
        [event] = await read_events(bus, namespace, 1)
    finally:
        await source.stop()
    assert base64.b64decode(event["data"]["body"]) == b"hi"

    missing = event_source(
        endpoint,
        name,
        **{
            "accessKey": {"name": "nope", "key": "id"},
            "secretKey": {"name": "aws", "key": "key"},
        },
    )
    broken = SQSSource(missing, Adaptor(bus, namespace, SOURCE), secrets=LocalSecrets(tmp_path))
    with pytest.raises(SpecError, match=r"spec\.sqs\.uploads\.accessKey: secret \"nope\""):
        await broken.start()


async def test_role_arn_is_assumed_through_sts(
    bus: JetStreamBus,
    namespace: str,
    endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # moto serves an assumed role's credentials from the role's own account, so the queue is
    # only found if the source really uses them.
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", endpoint)
    role = "arn:aws:iam::210987654321:role/sluice-reader"
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=role, RoleSessionName="test"
    )["Credentials"]
    other = boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    name = f"q-{uuid.uuid4().hex[:12]}"
    url = other.create_queue(QueueName=name)["QueueUrl"]
    assert "210987654321" in url
    resource = event_source(endpoint, name, roleARN=role, queueAccountId="210987654321")
    source = SQSSource(resource, Adaptor(bus, namespace, SOURCE), restart=FAST)
    await source.start()
    try:
        status = source.supervisor.status()[source.service_name("sqs", source.queues[0].name)]
        assert status.state is ServiceState.RUNNING, status.last_error
        other.send_message(QueueUrl=url, MessageBody="from the other account")
        [event] = await read_events(bus, namespace, 1)
    finally:
        await source.stop()
        other.close()
    assert base64.b64decode(event["data"]["body"]) == b"from the other account"


async def test_a_missing_queue_is_retried_until_it_exists(
    bus: JetStreamBus, namespace: str, endpoint: str, sqs: Any
) -> None:
    name = f"q-{uuid.uuid4().hex[:12]}"
    source = SQSSource(event_source(endpoint, name), Adaptor(bus, namespace, SOURCE), restart=FAST)
    await source.start()  # returns: the service is in backoff, not failed
    try:
        status = source.supervisor.status()[source.service_name("sqs", source.queues[0].name)]
        assert status.state is ServiceState.BACKOFF
        assert (
            status.last_error is not None and f"queue {name!r} does not exist" in status.last_error
        )
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="late")
        [event] = await read_events(bus, namespace, 1)
    finally:
        await source.stop()
    assert base64.b64decode(event["data"]["body"]) == b"late"


async def test_stop_abandons_the_long_poll_and_releases_what_it_brings(
    bus: JetStreamBus, namespace: str, endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    source = SQSSource(
        event_source(endpoint, name, waitTimeSeconds=5), Adaptor(bus, namespace, SOURCE)
    )
    await source.start()
    await asyncio.sleep(0.3)  # the first long poll is waiting
    started = time.monotonic()
    await source.stop()
    assert time.monotonic() - started < 1.0
    # the abandoned poll still receives this one, and makes it visible again at once
    sent = sqs.send_message(QueueUrl=url, MessageBody="after stop")
    await until(lambda: source.counts()[EVENT]["released"] == 1)
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["MessageId"] for m in got] == [sent["MessageId"]]
    assert source.counts()[EVENT]["received"] == 0


async def test_an_s3_upload_reaches_the_bus(
    bus: JetStreamBus, namespace: str, endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    # S3 sends an s3:TestEvent when the configuration is set, as AWS does: drop it
    sqs.purge_queue(QueueUrl=url)
    source = SQSSource(event_source(endpoint, name, jsonBody=True), Adaptor(bus, namespace, SOURCE))
    await source.start()
    try:
        s3.put_object(Bucket=bucket, Key="data.csv", Body=b"a,b\n1,2\n")
        s3.put_object(Bucket=bucket, Key="incoming/report 1.csv", Body=b"")
        events = await read_events(bus, namespace, 2)
    finally:
        await source.stop()
        s3.close()
    records = [e["data"]["body"]["Records"][0] for e in events]
    assert [r["eventName"][:14] for r in records] == ["ObjectCreated:"] * 2
    assert records[0]["s3"]["bucket"]["name"] == bucket
    assert records[0]["s3"]["object"]["key"] == "data.csv"
    # S3 URL-encodes the key in its notifications (moto encodes "/" too, AWS does not)
    assert unquote_plus(records[1]["s3"]["object"]["key"]) == "incoming/report 1.csv"


async def test_an_s3_upload_reaches_the_bus_through_sns(
    bus: JetStreamBus, namespace: str, endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns = boto3.client("sns", region_name=REGION, endpoint_url=endpoint)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    sqs.purge_queue(QueueUrl=url)  # the s3:TestEvent
    source = SQSSource(event_source(endpoint, name, jsonBody=True), Adaptor(bus, namespace, SOURCE))
    await source.start()
    try:
        s3.put_object(Bucket=bucket, Key="via-sns.json", Body=b"{}")
        [event] = await read_events(bus, namespace, 1)
    finally:
        await source.stop()
        s3.close()
        sns.close()
    body = event["data"]["body"]
    assert body["Type"] == "Notification" and body["TopicArn"] == topic
    [record] = json.loads(body["Message"])["Records"]  # SNS carries the S3 event as a string
    assert record["s3"]["object"]["key"] == "via-sns.json"
