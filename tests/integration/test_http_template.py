"""``http:`` templates against a real aiohttp server on a free loopback port."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from engine.http_template import HTTPOutcome, run_http


@dataclass
class Received:
    method: str
    path: str
    headers: list[tuple[str, str]]
    host: str | None
    body: bytes


@dataclass
class Server:
    url: str
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """Records every request; ``/status/N`` answers N, ``/slow`` waits until teardown."""
    srv = Server(url="")

    async def record(request: web.Request) -> None:
        srv.received.append(
            Received(
                method=request.method,
                path=request.path,
                headers=list(request.headers.items()),
                host=request.headers.get("Host"),
                body=await request.read(),
            )
        )

    async def echo(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(text=f"{request.method} ok")

    async def status(request: web.Request) -> web.Response:
        await record(request)
        code = int(request.match_info["code"])
        # lower-case names on the wire: the condition must see Go's canonical X-Reply
        headers = [("x-reply", "a"), ("x-reply", "b"), ("content-type", "text/plain")]
        return web.Response(status=code, body=f"status {code}".encode(), headers=headers)

    async def slow(request: web.Request) -> web.Response:
        await record(request)
        await asyncio.wait_for(srv.release.wait(), timeout=10)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    srv.url = f"http://127.0.0.1:{port}"
    yield srv
    srv.release.set()
    await runner.cleanup()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def _values(received: Received, name: str) -> list[str]:
    return [v for k, v in received.headers if k.lower() == name.lower()]


# ---- what the server receives --------------------------------------------------------------
REQUESTS = [
    # (id, spec beyond url, method seen, body seen, headers seen)
    ("get-default", {}, "GET", b"", {}),
    ("get-headers", {"headers": [{"name": "X-Trace", "value": "t1"}]}, "GET", b"",
     {"X-Trace": ["t1"]}),
    ("post-body", {"method": "POST", "body": '{"a": 1}',
                   "headers": [{"name": "Content-Type", "value": "application/json"}]},
     "POST", b'{"a": 1}', {"Content-Type": ["application/json"]}),
    ("put-body-from", {"method": "PUT", "body": "ignored",
                       "bodyFrom": {"bytes": base64.b64encode(b"\x00raw").decode()}},
     "PUT", b"\x00raw", {}),
    ("repeated-header", {"headers": [{"name": "X-Multi", "value": "1"},
                                     {"name": "X-Multi", "value": "2"}]},
     "GET", b"", {"X-Multi": ["1", "2"]}),
    ("host-override", {"headers": [{"name": "Host", "value": "example.test"}]}, "GET", b"",
     {"Host": ["example.test"]}),
    ("insecure-on-plain-http", {"insecureSkipVerify": True, "timeoutSeconds": "5"}, "GET", b"",
     {}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "method", "body", "headers"),
    [r[1:] for r in REQUESTS],
    ids=[r[0] for r in REQUESTS],
)
async def test_request_is_sent_as_specified(
    server: Server,
    spec: dict[str, Any],
    method: str,
    body: bytes,
    headers: dict[str, list[str]],
) -> None:
    outcome = await run_http({"url": f"{server.url}/echo", **spec})

    assert outcome == HTTPOutcome("Succeeded", "", f"{method} ok", 200)
    [got] = server.received
    assert (got.method, got.body) == (method, body)
    for name, values in headers.items():
        assert _values(got, name) == values
    if "Content-Type" not in headers:  # Go adds none; neither may we
        assert _values(got, "Content-Type") == []


async def test_secret_header_comes_from_the_resolver(server: Server) -> None:
    asked: list[tuple[str, str]] = []

    def secrets(name: str, key: str) -> str:
        asked.append((name, key))
        return {("api-creds", "token"): "Bearer s3cret"}[(name, key)]

    ref = {"secretKeyRef": {"name": "api-creds", "key": "token"}}
    spec = {
        "url": f"{server.url}/echo",
        "headers": [{"name": "Authorization", "valueFrom": ref}, {"name": "X-Plain", "value": "p"}],
        # the secret stays out of request.headers, as in Argo
        "successCondition": 'request.headers["Authorization"] == nil'
        ' && request.headers["X-Plain"][0] == "p"',
    }
    outcome = await run_http(spec, secrets=secrets)

    assert outcome.phase == "Succeeded", outcome.message
    assert asked == [("api-creds", "token")]
    assert _values(server.received[0], "Authorization") == ["Bearer s3cret"]


def _no_key(name: str, key: str) -> str:
    return {"other": "x"}[key]


def _no_secret(name: str, key: str) -> str:
    raise LookupError(f'secrets "{name}" not found')


SECRET_FAILURES = [
    # (id, resolver, phase, message)
    ("missing-key", _no_key, "Failed",
     "header 'Authorization': cannot read key 'token' of secret 'api-creds'"),
    ("resolver-explains", _no_secret, "Failed",
     "header 'Authorization': cannot read key 'token' of secret 'api-creds': "
     'secrets "api-creds" not found'),
    ("no-resolver", None, "Error",
     "header 'Authorization' reads key 'token' of secret 'api-creds', "
     "but no secret resolver is configured"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("secrets", "phase", "message"),
    [r[1:] for r in SECRET_FAILURES],
    ids=[r[0] for r in SECRET_FAILURES],
)
async def test_unresolvable_secret_sends_nothing(
    server: Server, secrets: Any, phase: str, message: str
) -> None:
    ref = {"secretKeyRef": {"name": "api-creds", "key": "token"}}
    spec = {"url": f"{server.url}/echo", "headers": [{"name": "Authorization", "valueFrom": ref}]}

    assert await run_http(spec, secrets=secrets) == HTTPOutcome(phase, message, None, None)
    assert server.received == []


# ---- judging the response ------------------------------------------------------------------
CONDITIONS = [
    # (id, status served, successCondition, phase, message)
    ("status-true", 201, "response.statusCode == 201", "Succeeded", ""),
    ("status-false", 201, "response.statusCode == 200", "Failed",
     "successCondition 'response.statusCode == 200' evaluated false"),
    ("overrides-default-rule", 503, "response.statusCode in [502, 503]", "Succeeded", ""),
    ("body-contains", 200, 'response.body contains "200"', "Succeeded", ""),
    ("body-matches-false", 200, 'response.body matches "^nope"', "Failed",
     "successCondition 'response.body matches \"^nope\"' evaluated false"),
    ("header-canonical-name", 200, 'response.headers["X-Reply"] == ["a", "b"]', "Succeeded", ""),
    ("header-content-type", 200, 'response.headers["Content-Type"][0] startsWith "text/plain"',
     "Succeeded", ""),
    ("header-absent-is-nil", 200, 'response.headers["X-None"] == nil', "Succeeded", ""),
    ("request-in-scope", 200, 'request.method == "" && request.url endsWith "/status/200"',
     "Succeeded", ""),
    ("not-a-bool", 200, "response.statusCode", "Failed",
     "unable to cast expression result '200' to bool"),
    ("unknown-name", 200, "status == 200", "Failed",
     "unable to evaluate expression 'status == 200': unknown name status (1:1)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "condition", "phase", "message"),
    [r[1:] for r in CONDITIONS],
    ids=[r[0] for r in CONDITIONS],
)
async def test_success_condition(
    server: Server, code: int, condition: str, phase: str, message: str
) -> None:
    spec = {"url": f"{server.url}/status/{code}", "successCondition": condition}

    assert await run_http(spec) == HTTPOutcome(phase, message, f"status {code}", code)


DEFAULT_RULE = [
    # (status served, phase, message): without successCondition any 2xx succeeds
    (200, "Succeeded", ""),
    (204, "Succeeded", ""),
    (299, "Succeeded", ""),
    (304, "Failed", "received non-2xx response code: 304"),
    (404, "Failed", "received non-2xx response code: 404"),
    (500, "Failed", "received non-2xx response code: 500"),
]


@pytest.mark.parametrize(
    ("code", "phase", "message"), DEFAULT_RULE, ids=[str(r[0]) for r in DEFAULT_RULE]
)
async def test_default_success_rule(server: Server, code: int, phase: str, message: str) -> None:
    outcome = await run_http({"url": f"{server.url}/status/{code}"})

    assert (outcome.phase, outcome.message, outcome.status_code) == (phase, message, code)
    # a 204 or 304 carries no body; any other response's body is the result, failed or not
    assert outcome.result == ("" if code in (204, 304) else f"status {code}")


async def test_callers_session_is_used_and_left_open(server: Server) -> None:
    async with aiohttp.ClientSession(headers={"X-Session": "mine"}) as session:
        first = await run_http({"url": f"{server.url}/echo"}, session=session)
        second = await run_http({"url": f"{server.url}/echo", "method": "DELETE"}, session=session)
        assert not session.closed

    assert (first.phase, second.phase) == ("Succeeded", "Succeeded")
    assert [_values(r, "X-Session") for r in server.received] == [["mine"], ["mine"]]


# ---- no response ---------------------------------------------------------------------------
async def test_timeout_fails_with_go_message(server: Server) -> None:
    url = f"{server.url}/slow"
    started = time.monotonic()

    outcome = await run_http({"url": url, "timeoutSeconds": 1})

    assert time.monotonic() - started < 3
    assert outcome == HTTPOutcome(
        "Failed", f'Get "{url}": context deadline exceeded (timeoutSeconds: 1)', None, None
    )
    assert len(server.received) == 1


async def test_connection_refused_names_the_url(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/hook"

    outcome = await run_http({"url": url, "method": "post", "body": "x"})

    assert outcome == HTTPOutcome(
        "Failed",
        f'Post "{url}": dial tcp 127.0.0.1:{closed_port}: connect: connection refused',
        None,
        None,
    )


async def test_password_is_hidden_in_messages(closed_port: int) -> None:
    outcome = await run_http({"url": f"http://user:pw@127.0.0.1:{closed_port}/"})

    assert outcome.message.startswith(f'Get "http://user:***@127.0.0.1:{closed_port}/": dial tcp')


SPEC_ERRORS = [
    # (id, spec, message): what Argo rejects before running is an Error
    ("no-url", {"method": "GET"}, "http template has no url"),
    ("bad-body-from", {"url": "http://127.0.0.1:9/", "bodyFrom": {"bytes": "%%%"}},
     "invalid http.bodyFrom.bytes: Only base64 data is allowed"),
    ("bad-timeout", {"url": "http://127.0.0.1:9/", "timeoutSeconds": "soon"},
     "invalid http.timeoutSeconds 'soon': not an integer"),
    ("header-without-name", {"url": "http://127.0.0.1:9/", "headers": [{"value": "v"}]},
     "http.headers[0] has no name"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "message"), [r[1:] for r in SPEC_ERRORS], ids=[r[0] for r in SPEC_ERRORS]
)
async def test_spec_errors(spec: dict[str, Any], message: str) -> None:
    outcome = await run_http(spec)

    assert (outcome.phase, outcome.result, outcome.status_code) == ("Error", None, None)
    assert outcome.message.startswith(message)
