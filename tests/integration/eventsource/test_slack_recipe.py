"""The Slack recipe end to end: ``sluice up examples/slack-to-workflow`` (on a free port).

Slash commands signed with the app's signing secret, as Slack sends them, run the run-job
template: a known job succeeds without the failure handler, an unknown one is retried twice
and fails with notify-failure run, and commands the sensor does not take fire nothing. A
request with a wrong signature is refused before it reaches the bus.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from tests.conftest import free_port
from tests.support.recipes import finished, handler_phases, parameter, recipe_copy, running, tries

pytestmark = pytest.mark.timeout(120)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


async def command(port: int, text: str, *, name: str = "/run-job", secret: str = SECRET) -> int:
    body = urlencode(
        {
            "token": "legacy",
            "team_id": "T1",
            "team_domain": "acme",
            "channel_id": "C1",
            "channel_name": "data",
            "user_id": "U1",
            "user_name": "ada",
            "command": name,
            "text": text,
            "response_url": "https://hooks.slack.com/commands/T1/1/x",
            "trigger_id": "1.2.3",
            "api_app_id": "A1",
        }
    ).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(
            timestamp=stamp, body=body
        ),
    }
    url = f"http://127.0.0.1:{port}/slack/commands"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as r,
    ):
        return r.status


async def test_slash_commands_run_the_job(tmp_path: Path, nats_url: str) -> None:
    port = free_port()
    folder = recipe_copy("slack-to-workflow", tmp_path, {"12120": port})
    secrets = tmp_path / "data" / "secrets" / "slack"
    secrets.mkdir(parents=True)
    (secrets / "signing-secret").write_text(SECRET + "\n")
    async with running(folder, tmp_path / "data", nats_url) as up:
        assert await command(port, "nightly-report", secret="not-the-secret") == 401
        assert await command(port, "nightly-report") == 200
        assert await command(port, "drop-tables") == 200
        assert await command(port, "two words") == 200  # answered, but the sensor takes one name
        assert await command(port, "nightly-report", name="/other") == 200
        runs = {parameter(wf, 0): wf for wf in await finished(up, 2)}
        await asyncio.sleep(1)  # nothing else fires
        assert len(up.engine.list_workflows("default")) == 2

    assert sorted(runs) == ["drop-tables", "nightly-report"]
    good, bad = runs["nightly-report"], runs["drop-tables"]
    assert parameter(good, 1) == "ada"
    assert good["status"]["phase"] == "Succeeded"
    assert tries(good, "run") == 1
    assert handler_phases(good) == ["Skipped"]
    assert bad["status"]["phase"] == "Failed"
    assert tries(bad, "run") == 3
    assert handler_phases(bad) == ["Succeeded"]
