"""The ``gitlab`` event source: GitLab webhook calls become events.

As Argo's gitlab source: with ``secretToken`` the call's ``X-Gitlab-Token`` header must equal
the secret (compared in constant time), else a 400 ``token mismatch``; the body must be JSON
(400 otherwise, where Argo's marshalling of it fails); the event data is
``{"headers": {name: [values]}, "body": ..., "metadata": {...}}``.

``events`` names GitLab hook options as Argo does (``PushEvents``, ``TagPushEvents``,
``MergeRequestsEvents``, ...); an unknown name is a spec error, as Argo's ``unknown event``.
Argo turns them into the options of the hook it registers; sluice registers no hook (the user
creates it in GitLab, and a spec that asks for registration gets a warning at start), so it
uses them as an allow-list on the ``X-Gitlab-Event`` header each option makes GitLab send
(``PushEvents`` → ``Push Hook``): a call for another event is answered 200 and dropped.

Deliberate differences from Argo: the allow-list above; ``secretToken`` is checked whenever it
is set (Argo reads it only when it registers hooks); the ``X-Gitlab-Token`` header is masked in
the event, so the secret does not travel on the bus; ``projects``, ``accessToken`` and
``gitlabBaseURL`` are not required.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from aiohttp import web

from eventsource.models.common import EventSourceModel, WebhookContext
from eventsource.models.http import GitlabEventSource
from eventsource.registry import register
from eventsource.sources.hooks import (
    Delivery,
    HookRoute,
    HookSource,
    Refused,
    masked_headers,
    no_registration,
)
from sluice.core.errors import SpecError

log = logging.getLogger(__name__)

EVENT_TYPE = "gitlab"
TOKEN_HEADER = "X-Gitlab-Token"
EVENT_HEADER = "X-Gitlab-Event"

# Argo's event names (fields of the GitLab client's hook options) → the X-Gitlab-Event value.
HOOK_EVENTS = {
    "PushEvents": "Push Hook",
    "TagPushEvents": "Tag Push Hook",
    "IssuesEvents": "Issue Hook",
    "ConfidentialIssuesEvents": "Confidential Issue Hook",
    "MergeRequestsEvents": "Merge Request Hook",
    "NoteEvents": "Note Hook",
    "ConfidentialNoteEvents": "Confidential Note Hook",
    "JobEvents": "Job Hook",
    "PipelineEvents": "Pipeline Hook",
    "WikiPageEvents": "Wiki Page Hook",
    "DeploymentEvents": "Deployment Hook",
    "ReleasesEvents": "Release Hook",
    "EmojiEvents": "Emoji Hook",
    "FeatureFlagEvents": "Feature Flag Hook",
    "ResourceAccessTokenEvents": "Resource Access Token Hook",
    "MemberEvents": "Member Hook",
    "SubGroupEvents": "Subgroup Hook",
}


def hook_events(events: list[str] | None, where: str) -> frozenset[str] | None:
    """The ``X-Gitlab-Event`` values the ``events`` allow (None: all); unknown names fail."""
    if not events or "*" in events:
        return None
    unknown = sorted(set(events) - set(HOOK_EVENTS))
    if unknown:
        raise SpecError(
            [
                f"{where}.events: unknown event {name!r}; known: {', '.join(HOOK_EVENTS)}"
                for name in unknown
            ]
        )
    return frozenset(HOOK_EVENTS[name] for name in events)


class GitlabRoute(HookRoute):
    gitlab: GitlabEventSource
    accepted: frozenset[str] | None

    def __init__(
        self, gitlab: GitlabEventSource, accepted: frozenset[str] | None, **route: Any
    ) -> None:
        secrets = {"secretToken": gitlab.secret_token} if gitlab.secret_token else {}
        super().__init__(kind=EVENT_TYPE, secret_names=secrets, **route)
        self.gitlab = gitlab
        self.accepted = accepted

    async def deliver(self, request: web.Request, raw: bytes) -> Delivery:
        token = self.secret("secretToken")
        if token is not None:
            given = request.headers.get(TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                raise Refused(400, "token mismatch")
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise Refused(400, f"request body is not valid JSON: {exc}") from exc
        event = request.headers.get(EVENT_HEADER, "")
        if self.accepted is not None and event not in self.accepted:
            return Delivery(dropped=f"event {event!r} is not in events; dropped")
        data: dict[str, Any] = {"headers": masked_headers(request, TOKEN_HEADER), "body": body}
        if self.gitlab.metadata:
            data["metadata"] = dict(self.gitlab.metadata)
        return Delivery([data])


@register("gitlab")
class GitlabSource(HookSource):
    """Every ``spec.gitlab`` event of one EventSource."""

    yaml_key = "gitlab"

    def make_route(self, name: str, spec: EventSourceModel, webhook: WebhookContext) -> HookRoute:
        assert isinstance(spec, GitlabEventSource)
        where = f"eventsource/{self.adaptor.source_name}: spec.gitlab.{name}"
        return GitlabRoute(
            spec,
            hook_events(spec.events, where),
            event_name=name,
            spec=webhook,
            adaptor=self.adaptor,
            secrets=self.secrets,
        )

    def announce(self) -> None:
        for _, route in self.routes:
            assert isinstance(route, GitlabRoute)
            spec = route.gitlab
            targets = spec.projects or spec.groups or spec.project_id
            no_registration(route, "GitLab", bool(targets and spec.access_token))


__all__ = ["EVENT_TYPE", "HOOK_EVENTS", "GitlabSource", "hook_events"]
