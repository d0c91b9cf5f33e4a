"""The ``pubSub`` event source: messages of a Google Cloud Pub/Sub subscription become events.

This is how GCS uploads reach sluice too: a bucket's Pub/Sub notifications (``gsutil
notification create -f json -e OBJECT_FINALIZE``) arrive here with the attributes
``objectId``, ``bucketId``, ``eventType``, ... and the object resource as the JSON body.

As Argo Events' ``gcppubsub`` source:

* the subscription is found or made by Argo's rules: an existing ``subscriptionID`` is used
  (its topic checked when ``topic`` is given), a missing one is created on ``topic`` (in
  ``topicProjectID``, default ``projectID``), creating the topic when that is missing too; no
  ``subscriptionID`` means ``<event name>-<hash of the spec>``;
* credentials come from ``credentialSecret`` (the service account's JSON key), else from
  Application Default Credentials; ``PUBSUB_EMULATOR_HOST`` points the client at an emulator;
* the event data is ``{"id", "body", "attributes", "publishTime", "metadata"}``: ``body`` is
  the message data base64-encoded, or the JSON itself with ``jsonBody``; ``publishTime`` is
  written as Go's ``time.Time.String()``;
* a message is acked only once the bus has stored its event, and nacked (so Pub/Sub redelivers
  it) when the bus failed, or when ``jsonBody`` is set and the data is not JSON (Argo cannot
  marshal it either). The event id comes from the message id (``Adaptor.upstream_id``), so a
  redelivery is stored once;
* ``deleteSubscriptionOnFinish`` deletes the subscription when the source stops.

Deliberate differences: ``projectID`` cannot come from the GCE metadata server (sluice does not
run there); without it, the project of the default credentials or ``GOOGLE_CLOUD_PROJECT`` is
used. The generated subscription name uses sluice's own hash of the spec, so it differs from the
one Argo would generate. The older ``credentialsFile`` (a path to the JSON key) is accepted too.
Each event's subscriber runs as a supervised service: a lost stream is restarted with backoff,
and a spec problem (wrong topic, no topic for a missing subscription) fails it for good.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.oauth2 import service_account

from eventbus.errors import BusError
from eventsource.adaptor import Adaptor
from eventsource.models import EventSource
from eventsource.models.cloud import PubSubEventSource
from eventsource.registry import SourceContext, register
from eventsource.secrets import LocalSecrets
from eventsource.sources.payloads import message_body, with_metadata
from eventsource.sources.supervised import Ready, Run, ServiceSource
from sluice.core.clock import Clock
from sluice.core.errors import PermanentError, SpecError
from sluice.core.govalue import format_time
from sluice.core.supervise import until

log = logging.getLogger(__name__)

EVENT_TYPE = "pubsub"
GO_TIME_STRING = "2006-01-02 15:04:05.999999999 -0700 MST"  # time.Time.String()
DELETED_TOPIC = "_deleted-topic_"


def event_data(message: Any, spec: PubSubEventSource) -> dict[str, Any]:
    """Argo's ``PubSubEventData`` of a received message; ``ValueError`` if ``jsonBody`` is set
    and the data is not JSON."""
    published: datetime = message.publish_time
    data: dict[str, Any] = {
        "id": message.message_id,
        "body": message_body(message.data, bool(spec.json_body)),
        "attributes": dict(message.attributes) or None,  # Go writes a nil map as null
        "publishTime": format_time(published.astimezone(UTC), GO_TIME_STRING),
    }
    return with_metadata(data, spec.metadata)


def subscription_id(event_name: str, spec: PubSubEventSource) -> str:
    """``subscriptionID``, or ``<event name>-<hash>`` of the spec when it is not set."""
    if spec.subscription_id:
        return spec.subscription_id
    text = event_name + json.dumps(
        spec.model_dump(by_alias=True, exclude_none=True), sort_keys=True
    )
    digest = 0x811C9DC5  # FNV-1a, 32 bits: as short as Argo's generated names
    for byte in text.encode():
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{event_name}-{digest}"


class PubSubSubscription:
    """One ``spec.pubSub.<name>``: its subscription, its subscriber, and its events."""

    def __init__(
        self, name: str, spec: PubSubEventSource, adaptor: Adaptor, secrets: LocalSecrets | None
    ) -> None:
        self.name = name
        self.spec = spec
        self.adaptor = adaptor
        self.secrets = secrets
        self.received = 0
        self.nacked = 0

    def where(self) -> str:
        return f"eventsource/{self.adaptor.source_name}: spec.pubSub.{self.name}"

    def credentials(self) -> Any:
        """The service account's credentials, or None for the default ones (or an emulator)."""
        try:
            if self.spec.credential_secret is not None:
                if self.secrets is None:
                    raise SpecError([f"{self.where()}: credentialSecret needs a data directory"])
                info = json.loads(self.secrets.selected(self.spec.credential_secret))
            elif self.spec.credentials_file:
                with open(self.spec.credentials_file, encoding="utf-8") as fh:
                    info = json.load(fh)
            else:
                return None
            return service_account.Credentials.from_service_account_info(info)
        except (OSError, ValueError, KeyError) as exc:
            raise SpecError([f"{self.where()}: cannot read the credentials: {exc}"]) from exc

    def project(self, credentials: Any) -> str:
        project = self.spec.project_id or getattr(credentials, "project_id", None)
        project = project or os.environ.get("GOOGLE_CLOUD_PROJECT")
        if not project:
            raise SpecError(
                [f"{self.where()}: projectID is not set and no default project is configured"]
            )
        return str(project)

    def prepare(self, subscriber: Any, publisher: Any, project: str) -> str:
        """The subscription's path, found or created by Argo's rules (blocking calls)."""
        path = subscriber.subscription_path(project, subscription_id(self.name, self.spec))
        try:
            found = subscriber.get_subscription(request={"subscription": path})
        except gexc.NotFound:
            found = None
        if not self.spec.topic:
            if found is None:
                raise SpecError(
                    [f"{self.where()}: topic is needed to create the missing subscription {path}"]
                )
            return str(path)
        topic = publisher.topic_path(self.spec.topic_project_id or project, self.spec.topic)
        if found is not None:
            if found.topic == DELETED_TOPIC:
                raise PermanentError(f"{self.where()}: the topic of {path} has been deleted")
            if found.topic != topic:
                raise SpecError(
                    [f"{self.where()}: subscription {path} belongs to {found.topic}, not {topic}"]
                )
            return str(path)
        try:
            subscriber.create_subscription(request={"name": path, "topic": topic})
        except gexc.NotFound:  # no topic yet: create it, then the subscription
            publisher.create_topic(request={"name": topic})
            subscriber.create_subscription(request={"name": path, "topic": topic})
        log.info("%s: created subscription %s on %s", self.where(), path, topic)
        return str(path)

    async def handle(self, message: Any) -> bool:
        """Dispatch one message; whether to ack it (the bus stored it, or the filter left it
        out) rather than nack it."""
        self.received += 1
        try:
            data = event_data(message, self.spec)
        except ValueError as exc:
            log.error(
                "%s: message %s: jsonBody is set but the data is not JSON (%s); nacked",
                self.where(),
                message.message_id,
                exc,
            )
            return False
        try:
            event_id = self.adaptor.upstream_id(self.name, message.message_id)
            await self.adaptor.dispatch(self.name, EVENT_TYPE, data, event_id=event_id)
        except BusError as exc:
            log.error(
                "%s: message %s not stored (%s); nacked", self.where(), message.message_id, exc
            )
            return False
        return True


@register("pubSub")
class PubSubSource(ServiceSource):
    """Every ``spec.pubSub`` event of one EventSource, each subscriber a supervised service."""

    def __init__(
        self,
        event_source: EventSource,
        adaptor: Adaptor,
        *,
        secrets: LocalSecrets | None = None,
        clock: Clock | None = None,
        max_messages: int = 100,
    ) -> None:
        super().__init__(adaptor, clock=clock)
        self.max_messages = max_messages
        self.subscriptions = [
            PubSubSubscription(name, spec, adaptor, secrets)
            for name, spec in sorted((event_source.spec.pub_sub or {}).items())
        ]

    @classmethod
    def from_context(
        cls, event_source: EventSource, adaptor: Adaptor, context: SourceContext
    ) -> PubSubSource:
        return cls(event_source, adaptor, secrets=context.secrets, clock=context.clock)

    def services(self) -> list[tuple[str, Run]]:
        return [
            (self.service_name("pubSub", sub.name), functools.partial(self._receive, sub))
            for sub in self.subscriptions
        ]

    async def _receive(self, sub: PubSubSubscription, ready: Ready) -> None:
        try:
            await self._subscribe(sub, ready)
        except gexc.GoogleAPICallError as exc:
            raise BusError(f"{sub.where()}: Pub/Sub: {exc}") from exc

    async def _subscribe(self, sub: PubSubSubscription, ready: Ready) -> None:
        credentials = sub.credentials()
        project = sub.project(credentials)
        subscriber = pubsub_v1.SubscriberClient(credentials=credentials)
        publisher = pubsub_v1.PublisherClient(credentials=credentials)
        loop = asyncio.get_running_loop()
        try:
            path = await asyncio.to_thread(sub.prepare, subscriber, publisher, project)

            def callback(message: Any) -> None:  # on the client's threads
                done = asyncio.run_coroutine_threadsafe(sub.handle(message), loop)
                try:
                    ack = done.result()
                except (concurrent.futures.CancelledError, RuntimeError):
                    ack = False  # the source is stopping: Pub/Sub redelivers it
                if ack:
                    message.ack()
                else:
                    sub.nacked += 1
                    message.nack()

            streaming = subscriber.subscribe(
                path,
                callback,
                flow_control=pubsub_v1.types.FlowControl(max_messages=self.max_messages),
                await_callbacks_on_shutdown=True,
            )
            log.info("%s: receiving from %s", sub.where(), path)
            ready()
            try:
                stopped = await until(self.stopping, asyncio.wrap_future(streaming))
            finally:
                streaming.cancel()
                await asyncio.to_thread(_settle, streaming)
            if stopped and sub.spec.delete_subscription_on_finish:
                await asyncio.to_thread(_delete, subscriber, path, sub.where())
            if not stopped:
                raise BusError(f"{sub.where()}: the subscriber of {path} stopped")
        finally:
            await asyncio.to_thread(subscriber.close)
            transport = getattr(publisher, "_transport", None)
            if transport is not None:
                await asyncio.to_thread(transport.close)

    def counts(self) -> Mapping[str, tuple[int, int]]:
        """Received and nacked messages, by event."""
        return {sub.name: (sub.received, sub.nacked) for sub in self.subscriptions}


def _settle(streaming: Any) -> None:
    try:
        streaming.result(timeout=30)
    except (concurrent.futures.CancelledError, concurrent.futures.TimeoutError):
        pass
    except Exception as exc:  # the stream had already failed; the caller reports it
        log.debug("subscriber ended with %s", exc)


def _delete(subscriber: Any, path: str, where: str) -> None:
    try:
        subscriber.delete_subscription(request={"subscription": path})
        log.info("%s: deleted subscription %s", where, path)
    except gexc.GoogleAPICallError as exc:
        log.error("%s: deleting subscription %s failed: %s", where, path, exc)


__all__ = ["EVENT_TYPE", "PubSubSource", "PubSubSubscription", "event_data", "subscription_id"]
