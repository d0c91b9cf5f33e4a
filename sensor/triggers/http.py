"""The ``http`` trigger: one HTTP request per firing, as Argo's ``http.go`` makes it.

Its resource is the ``http`` spec as YAML (``method`` defaulted to ``POST``), so the type's
``parameters`` may rewrite ``url``, ``method`` or ``headers.X`` before it fires. The body is the
payload built from the ``payload`` parameters; without one a POST, PUT or PATCH sends an empty
body (Argo warns and does the same). As in Go's client, no ``Content-Type`` is sent unless
``headers`` sets one. ``headers`` are set as written, then ``secureHeaders`` (each value from a
local secret or config-map key), then ``basicAuth`` (username and password from secrets).
``timeout`` is in seconds, 60 by default; a timeout or a connection error is retryable.

Any response status succeeds unless ``policy.status.allow`` lists the allowed ones
(:func:`~sensor.triggers.policy.check_status`). ``tls`` is not supported yet.
"""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import ValidationError

from sensor.models.trigger_types import HTTPTrigger as HTTPSpec
from sensor.triggers.base import (
    Firing,
    Outcome,
    TriggerContext,
    TriggerError,
    TriggerImpl,
    register,
    unsupported,
)
from sensor.triggers.policy import check_status

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60  # seconds, Argo's default client timeout
_BODY_METHODS = ("POST", "PUT", "PATCH")


def _headers(spec: HTTPSpec, context: TriggerContext, where: str) -> dict[str, str]:
    headers = dict(spec.headers or {})
    for i, secure in enumerate(spec.secure_headers or []):
        what = f"{where}: secureHeaders[{i}]"
        ref = secure.value_from
        if not secure.name or ref is None:
            raise TriggerError(f"{what}: needs a name and valueFrom", retryable=False)
        if ref.secret_key_ref is not None:
            sel = ref.secret_key_ref
            headers[secure.name] = context.secret("secret", sel.name, sel.key, what)
        elif ref.config_map_key_ref is not None:
            sel_cm = ref.config_map_key_ref
            headers[secure.name] = context.secret("configmap", sel_cm.name, sel_cm.key, what)
        else:
            raise TriggerError(f"{what}: valueFrom sets no key reference", retryable=False)
    return headers


def _has(headers: dict[str, str], name: str) -> bool:
    return any(key.lower() == name.lower() for key in headers)


def _basic_auth(spec: HTTPSpec, context: TriggerContext, where: str) -> str | None:
    """The ``Authorization`` value, as Go's ``SetBasicAuth`` writes it."""
    auth = spec.basic_auth
    if auth is None:
        return None
    user = password = ""
    if auth.username is not None:
        sel = auth.username
        user = context.secret("secret", sel.name, sel.key, f"{where}: basicAuth.username")
    if auth.password is not None:
        sel = auth.password
        password = context.secret("secret", sel.name, sel.key, f"{where}: basicAuth.password")
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@register("http")
class HTTPTrigger(TriggerImpl):
    async def resource(self) -> Any:
        spec = self.trigger.template.http
        out = spec.to_yaml_dict() if spec is not None else {}
        out["method"] = out.get("method") or "POST"
        return out

    async def fire(self, firing: Firing, resource: Any, payload: bytes | None = None) -> Outcome:
        where = firing.where()
        try:
            spec = HTTPSpec.model_validate(resource)
        except ValidationError as exc:
            raise TriggerError(f"{where}: http: {exc}", retryable=False) from exc
        if spec.tls is not None:
            raise unsupported(f"{where}: http.tls")
        url = spec.url or ""
        if urlsplit(url).scheme not in ("http", "https"):
            raise TriggerError(f"{where}: http.url {url!r} is not an http(s) URL", retryable=False)
        method = (spec.method or "POST").upper()
        if method in _BODY_METHODS and payload is None:
            log.warning("%s: no payload parameters; the request body is empty", where)
        headers = _headers(spec, self.context, where)
        auth = _basic_auth(spec, self.context, where)
        if auth is not None:
            headers["Authorization"] = auth
        timeout = aiohttp.ClientTimeout(total=spec.timeout if spec.timeout else DEFAULT_TIMEOUT)
        what = f"{where}: {method} {url}"
        request: dict[str, Any] = {
            "data": payload or b"",
            "headers": headers,
            "timeout": timeout,
            "skip_auto_headers": () if _has(headers, "Content-Type") else ("Content-Type",),
        }
        log.info("%s: making an http request", what)
        try:
            if self.context.http is not None:
                status = await _send(self.context.http, method, url, request)
            else:
                async with aiohttp.ClientSession() as session:
                    status = await _send(session, method, url, request)
        except (aiohttp.InvalidURL, ValueError) as exc:
            raise TriggerError(f"{what}: invalid request: {exc}", retryable=False) from exc
        except TimeoutError as exc:
            raise TriggerError(f"{what}: timed out after {timeout.total}s", retryable=True) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TriggerError(f"{what}: {exc or type(exc).__name__}", retryable=True) from exc
        policy = self.trigger.policy.status if self.trigger.policy else None
        check_status(status, policy, what)
        return Outcome(f"{method} {url}: {status}")


async def _send(
    session: aiohttp.ClientSession, method: str, url: str, request: dict[str, Any]
) -> int:
    async with session.request(method, url, **request) as resp:
        await resp.read()  # the whole answer, so the timeout covers it as Go's client does
        return resp.status
