"""Argo's ``http:`` template: one HTTP request made by the engine itself, no pod.

Argo runs these in its agent; this module is that agent's request-and-judge step with aiohttp,
so the phase and message of a node read as they would in Argo:

* No ``successCondition``: any 2xx succeeds, anything else fails with
  ``received non-2xx response code: N``.
* With one, it is an **expr-lang** expression (Argo evaluates it with ``argoexpr.EvalBool``,
  not govaluate), evaluated by :mod:`sluice.core.exprlang` over nested maps, so Argo's documented
  ``response.body contains "ok"`` and ``response.headers["Content-Type"][0]`` work unchanged::

      request.method      string (as the spec writes it, "" when defaulted)
      request.url         string
      request.body        string
      request.bodyBytes   list of ints, or nil without ``bodyFrom``
      request.headers     map name -> [value]; secret-backed headers are left out, as in Argo
      response.statusCode int
      response.body       string
      response.headers    map name -> [values], names canonicalised as Go's http.Header

  False gives ``successCondition '<expr>' evaluated false``; an expression error or a non-bool
  result fails the node with expr's message.
* Transport errors (connection refused, timeout, a missing secret) fail the node with Go's
  ``Get "<url>": ...`` wording, as Argo's agent does: phase Failed, not Error. Error is kept for
  what Argo would have rejected before running (no url, bad ``bodyFrom.bytes``, a bad
  ``timeoutSeconds``) and for a secret reference with no secret resolver configured.
* ``timeoutSeconds`` bounds the whole exchange, body included, and defaults to 30 as Argo's
  API reference says (Argo's agent itself sets no limit when it is absent).

``outputs.result`` is the response body whenever a response arrived, even on failure.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import socket
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from sluice.core.errors import NotFoundError
from sluice.core.exprlang import ExprError, evaluate
from sluice.core.govalue import go_str

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "HTTPOutcome", "run_http"]

DEFAULT_TIMEOUT_SECONDS = 30

SecretLookup = Callable[[str, str], str]
"""``secrets(name, key)``: the secret's value; raises LookupError or NotFoundError if absent."""

_TOKEN = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")


@dataclass(frozen=True, slots=True)
class HTTPOutcome:
    phase: str  # "Succeeded" | "Failed" | "Error"
    message: str  # "" on success
    result: str | None  # response body, Argo's outputs.result
    status_code: int | None


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    url: str
    headers: list[tuple[str, str]]
    data: bytes | None
    timeout: int
    insecure: bool
    condition: str
    scope: dict[str, Any]  # the ``request`` map successCondition sees


class _Stop(Exception):
    """Ends the run before any response exists, with the node's phase and message."""

    def __init__(self, phase: str, message: str) -> None:
        super().__init__(message)
        self.phase = phase
        self.message = message


async def run_http(
    spec: Mapping[str, Any],
    *,
    session: aiohttp.ClientSession | None = None,
    secrets: SecretLookup | None = None,
) -> HTTPOutcome:
    """Send the request ``spec`` (a template's substituted ``http`` mapping) describes, judge it.

    A caller's ``session`` is used and left open; without one a session is made and closed.
    """
    try:
        request = _prepare(spec, secrets)
        status, body, headers = await _exchange(request, session)
    except _Stop as stop:
        return HTTPOutcome(stop.phase, stop.message, None, None)
    phase, message = _judge(request, status, body, headers)
    return HTTPOutcome(phase, message, body, status)


def _prepare(spec: Mapping[str, Any], secrets: SecretLookup | None) -> _Request:
    url = spec.get("url") or ""
    if not url:
        raise _Stop("Error", "http template has no url")
    timeout = _timeout(spec.get("timeoutSeconds"))
    method = spec.get("method") or ""
    body = spec.get("body") or ""
    data = body.encode()
    body_bytes: list[int] | None = None
    if (body_from := spec.get("bodyFrom")) is not None:
        try:
            data = base64.b64decode((body_from or {}).get("bytes") or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _Stop("Error", f"invalid http.bodyFrom.bytes: {exc}") from exc
        body_bytes = list(data)
    headers: list[tuple[str, str]] = []
    plain: dict[str, list[str]] = {}
    for i, header in enumerate(spec.get("headers") or []):
        name = header.get("name") or ""
        if not name:
            raise _Stop("Error", f"http.headers[{i}] has no name")
        ref = (header.get("valueFrom") or {}).get("secretKeyRef")
        if ref is None:
            value = str(header.get("value") or "")
            plain[name] = [value]
        else:
            value = _secret(name, ref, secrets)
        headers.append((name, value))
    return _Request(
        method=method or "GET",
        url=url,
        headers=headers,
        data=data or None,
        timeout=timeout,
        insecure=bool(spec.get("insecureSkipVerify")),
        condition=spec.get("successCondition") or "",
        scope={
            "method": method,
            "url": url,
            "body": body,
            "bodyBytes": body_bytes,
            "headers": plain,
        },
    )


def _secret(header: str, ref: Mapping[str, Any], secrets: SecretLookup | None) -> str:
    name, key = ref.get("name") or "", ref.get("key") or ""
    if secrets is None:
        raise _Stop(
            "Error",
            f"header '{header}' reads key '{key}' of secret '{name}', "
            "but no secret resolver is configured",
        )
    try:
        return secrets(name, key)
    except (LookupError, NotFoundError) as exc:
        detail = f": {exc.args[0]}" if exc.args and not isinstance(exc, KeyError) else ""
        message = f"header '{header}': cannot read key '{key}' of secret '{name}'{detail}"
        raise _Stop("Failed", message) from exc


def _timeout(raw: Any) -> int:
    # Argo accepts an int or a string of one (it is often a substituted parameter).
    if raw is None or raw == "":
        return DEFAULT_TIMEOUT_SECONDS
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw, 10)
        except ValueError:
            pass
    raise _Stop("Error", f"invalid http.timeoutSeconds {go_str(raw)!r}: not an integer")


async def _exchange(
    request: _Request, session: aiohttp.ClientSession | None
) -> tuple[int, str, dict[str, list[str]]]:
    own = session is None
    client = aiohttp.ClientSession() if session is None else session
    try:
        async with asyncio.timeout(request.timeout):
            async with client.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.data,
                ssl=not request.insecure,
                # asyncio.timeout is the one limit, as Go's context deadline is in Argo
                timeout=aiohttp.ClientTimeout(),
                # Go sends no Content-Type of its own; aiohttp would add octet-stream
                skip_auto_headers=("Content-Type",),
            ) as response:
                raw = await response.read()
                headers: dict[str, list[str]] = {}
                for name, value in response.headers.items():
                    headers.setdefault(_canonical(name), []).append(value)
                return response.status, raw.decode("utf-8", "replace"), headers
    except TimeoutError as exc:
        reason = f"context deadline exceeded (timeoutSeconds: {request.timeout})"
        raise _Stop("Failed", _url_error(request, reason)) from exc
    except aiohttp.ClientConnectorError as exc:
        raise _Stop("Failed", _url_error(request, _dial_error(exc))) from exc
    except aiohttp.ClientError as exc:
        raise _Stop("Failed", _url_error(request, str(exc) or type(exc).__name__)) from exc
    finally:
        if own:
            await client.close()


def _judge(
    request: _Request, status: int, body: str, headers: dict[str, list[str]]
) -> tuple[str, str]:
    condition = request.condition
    if not condition:
        if 200 <= status < 300:
            return "Succeeded", ""
        return "Failed", f"received non-2xx response code: {status}"
    scope = {
        "request": request.scope,
        "response": {"statusCode": status, "body": body, "headers": headers},
    }
    try:
        success = evaluate(condition, scope)
    except ExprError as exc:
        return "Failed", f"unable to evaluate expression '{condition}': {exc}"
    if not isinstance(success, bool):
        return "Failed", f"unable to cast expression result '{go_str(success)}' to bool"
    if not success:
        return "Failed", f"successCondition '{condition}' evaluated false"
    return "Succeeded", ""


def _canonical(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: ``x-reply-id`` -> ``X-Reply-Id``."""
    if not name or any(ch not in _TOKEN for ch in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _url_error(request: _Request, reason: str) -> str:
    """Go's ``*url.Error`` text: ``Get "http://host/path": reason``, password hidden."""
    op = request.method[:1].upper() + request.method[1:].lower()
    shown = request.url
    try:
        url = URL(request.url)
        if url.password is not None:
            shown = str(url.with_password("***"))
    except ValueError:
        pass
    return f'{op} "{shown}": {reason}'


def _dial_error(exc: aiohttp.ClientConnectorError) -> str:
    cause = exc.os_error
    if isinstance(cause, socket.gaierror):
        return f"dial tcp: lookup {exc.host}: {cause.strerror or cause}"
    reason = os.strerror(cause.errno).lower() if cause.errno else str(cause)
    return f"dial tcp {exc.host}:{exc.port}: connect: {reason}"
