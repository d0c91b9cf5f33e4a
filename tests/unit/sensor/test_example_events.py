"""Every example Sensor fires on its sample events, and not on its ``.nofire`` ones.

``examples/sensor-events/<stem>.json`` holds the events the example's EventSources would send
for ``sluice sensor test`` to say a trigger would fire (exit 0); ``<stem>.nofire.json``, where
there is one, events its filters or conditions must turn away (exit 1). A firing must also
carry values taken from the events into what its trigger renders, so a parameter that quietly
fell back to the template's value would show. Last, the command's own edge cases.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from sluice.cli import main

ROOT = Path(__file__).resolve().parents[3]
SENSORS = ROOT / "examples" / "sensors"
EVENTS = ROOT / "examples" / "sensor-events"
EXAMPLES = sorted(SENSORS.glob("*.yaml"))
NOFIRE = sorted(EVENTS.glob("*.nofire.json"))

# url-sensor.yaml fetches its Workflow from GitHub, which tests cannot reach: its run serves
# the same file from loopback and points a copy of the sensor there (see hello_world_origin).
GITHUB_ORIGIN = "https://raw.githubusercontent.com"
HELLO_WORLD_PATH = "/argoproj/argo-workflows/master/examples/hello-world.yaml"

# What the firing renders, by example: a dotted path into the trigger's rendered output
# ("resource" is the object or spec, "payload" the body sent) -> the value the events put there.
RENDERED: dict[str, dict[str, Any]] = {
    "calendar": {"resource.spec.arguments.parameters.0.value": "2026-12-05 10:00:10 +0000 UTC"},
    "data-filter-comparator-webhook": {"resource.spec.arguments.parameters.0.value": "75"},
    "filter-with-context": {
        "resource.spec.arguments.parameters.0.value": "from the webhook event source"
    },
    "filter-with-data-advanced": {"resource.spec.arguments.parameters.0.value": "advanced"},
    "filter-with-data-simple-1": {"resource.spec.arguments.parameters.0.value": "hey, it works"},
    "filter-with-data-simple-2": {
        "resource.spec.arguments.parameters.0.value": (
            '{"bucket":"argo-workflow-input","key":"input/data.csv","size":512}'
        )
    },
    "filter-with-expressions": {"resource.spec.arguments.parameters.0.value": "exprs"},
    "filter-with-multiple-data-filters-in-or": {
        "resource.spec.arguments.parameters.0.value": "data-or"
    },
    "filter-with-multiple-expr-filters-in-or": {
        "resource.spec.arguments.parameters.0.value": "expr-or"
    },
    "filter-with-multiple-filters": {"resource.spec.arguments.parameters.0.value": "multi"},
    "filter-with-multiple-filters-in-or": {
        "resource.spec.arguments.parameters.0.value": "multi-or"
    },
    "filter-with-multiple-filters-mixed": {"resource.spec.arguments.parameters.0.value": "mixed"},
    "filter-with-time": {"resource.spec.arguments.parameters.0.value": "in the window"},
    "aws-lambda-trigger": {"payload": {"name": "ada"}},
    "http-trigger": {"payload": {"bucket": "input", "type": "minio"}},
    "multi-dependencies": {
        "resource.spec.arguments.parameters.0.value": "hello from the webhook",
        "resource.spec.arguments.parameters.1.value": "2026-12-05 10:00:10 +0000 UTC",
    },
    "nats-trigger": {"payload": {"fileName": "reports/2026-12-05.csv", "bucket": "input"}},
    "slack-trigger": {
        "resource.channel": "data-team",
        "resource.message": "the nightly load finished",
    },
    "parameterization-context-key": {"resource.spec.arguments.parameters.0.value": "webhook"},
    "parameterization-default-value": {
        "resource.spec.arguments.parameters.0.value": "wow! a default value."
    },
    "parameterization-prepend": {"resource.spec.arguments.parameters.0.value": "hey!!hello world"},
    "parameterization-trigger-template": {
        "resource.spec.arguments.parameters.0.value": "amazing!!"
    },
    "special-workflow-trigger-shortened": {
        "resource.spec.arguments.parameters.0.value": '{"message":"hello from the webhook"}'
    },
    "trigger-with-dlq": {"payload": {"event": '{"order":1234,"status":"paid"}'}},
    "trigger-with-policy": {
        "resource.spec.arguments.parameters.0.value": '{"message":"run with a policy"}'
    },
    "trigger-with-template": {
        "resource.metadata.generateName": "webhook-janedoe-",
        "resource.spec.arguments.parameters.0.value": "Hello There",
        "resource.spec.arguments.parameters.1.value": "Example",
    },
    "url-sensor": {"resource.metadata.generateName": "hello-world-"},
}
# Examples whose parameter names no key, so the whole event is the value (Argo's JSON of the
# event: the context, and the data as base64): the webhook body the value must carry.
WHOLE_EVENT: dict[str, Any] = {
    "webhook": {"message": "this is my first webhook"},
    "filter-with-data-simple-3": {"value": 50},
}


def sensor_test(sensor: Path, *args: str | Path) -> Result:
    return CliRunner().invoke(main, ["sensor", "test", str(sensor), *map(str, args)])


def dig(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def rendered(result: Result) -> list[dict[str, Any]]:
    """What each firing of a ``-o json`` run rendered, in order."""
    records = json.loads(result.stdout)
    return [
        trigger["resource"]
        for record in records
        for decision in record["decisions"]
        for trigger in decision["triggers"]
        if "resource" in trigger
    ]


def has_workflow_parameters(path: Path) -> bool:
    """Whether a k8s or argoWorkflow trigger of the example maps event values into it."""
    for doc in yaml.safe_load_all(path.read_text()):
        for trigger in doc["spec"]["triggers"]:
            template = trigger["template"]
            for kind in ("k8s", "argoWorkflow"):
                if (template.get(kind) or {}).get("parameters"):
                    return True
    return False


@pytest.fixture
def hello_world_origin() -> Iterator[str]:
    """A loopback stand-in for raw.githubusercontent.com serving Argo's hello-world Workflow
    (sluice's copy of it, examples/workflows/hello-world.yaml) at the path url-sensor asks for."""
    body = (ROOT / "examples" / "workflows" / "hello-world.yaml").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == HELLO_WORLD_PATH
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            """Quiet: the test reads the CLI's output, not the server's."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="hello-world-origin")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def runnable(path: Path, request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The example, or for url-sensor a copy whose URL has the loopback origin instead."""
    if path.stem != "url-sensor":
        return path
    origin = request.getfixturevalue("hello_world_origin")
    text = path.read_text()
    assert text.count(GITHUB_ORIGIN + HELLO_WORLD_PATH) == 1
    copy = tmp_path / path.name
    copy.write_text(text.replace(GITHUB_ORIGIN, origin))
    return copy


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_example_fires_on_its_events(
    path: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    events = EVENTS / f"{path.stem}.json"
    assert events.is_file(), f"no sample events for {path.name}: write {events}"
    sensor = runnable(path, request, tmp_path)
    data_dir = tmp_path / "data"

    result = sensor_test(sensor, "-e", events, "--data-dir", data_dir)
    assert result.exit_code == 0, result.output
    assert "=> would fire" in result.output

    as_json = sensor_test(sensor, "-e", events, "--data-dir", data_dir, "-o", "json")
    assert as_json.exit_code == 0, as_json.output
    firings = rendered(as_json)
    if path.stem in RENDERED:
        assert len(firings) == 1, firings
        for where, expected in RENDERED[path.stem].items():
            assert dig(firings[0], where) == expected, where
    if path.stem in WHOLE_EVENT:
        (firing,) = firings
        value = json.loads(dig(firing, "resource.spec.arguments.parameters.0.value"))
        assert value["context"]["id"] == json.loads(events.read_text())[0]["id"]
        assert json.loads(base64.b64decode(value["data"]))["body"] == WHOLE_EVENT[path.stem]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_a_workflow_example_says_what_its_events_render(path: Path) -> None:
    if has_workflow_parameters(path):
        assert path.stem in RENDERED or path.stem in WHOLE_EVENT


@pytest.mark.parametrize(
    "events", NOFIRE, ids=[p.name.removesuffix(".nofire.json") for p in NOFIRE]
)
def test_the_example_does_not_fire_on_its_nofire_events(events: Path, tmp_path: Path) -> None:
    sensor = SENSORS / events.name.replace(".nofire.json", ".yaml")
    assert sensor.is_file(), f"{events.name} names no example"
    result = sensor_test(sensor, "-e", events, "--data-dir", tmp_path)
    assert result.exit_code == 1, result.output
    assert "=> would not fire" in result.output
    assert "]: failed" not in result.output  # turned away, not a trigger that broke


# ---- the command's edge cases ---------------------------------------------------------------
WEBHOOK = SENSORS / "webhook.yaml"


@pytest.mark.parametrize(
    ("content", "problem"),
    [("{not json", "not JSON"), (None, "cannot read")],
    ids=["not-json", "missing"],
)
def test_an_unreadable_event_file_is_exit_2_naming_it(
    content: str | None, problem: str, tmp_path: Path
) -> None:
    events = tmp_path / "events.json"
    if content is not None:
        events.write_text(content)
    result = sensor_test(WEBHOOK, "-e", events, "--data-dir", tmp_path)
    assert result.exit_code == 2, result.output
    assert f"{events}: {problem}" in result.stderr


def test_an_event_without_id_is_rejected(tmp_path: Path) -> None:
    event = json.loads((EVENTS / "webhook.json").read_text())[0]
    del event["id"]
    events = tmp_path / "no-id.json"
    events.write_text(json.dumps(event))
    result = sensor_test(WEBHOOK, "-e", events, "--data-dir", tmp_path)
    assert result.exit_code == 1, result.output
    assert f"{events}: rejected: not a CloudEvent: no id" in result.output
    assert "=> would not fire" in result.output


def test_a_file_that_is_not_a_sensor_is_exit_2(tmp_path: Path) -> None:
    not_a_sensor = ROOT / "examples" / "eventsources" / "webhook.yaml"
    result = sensor_test(not_a_sensor, "-e", EVENTS / "webhook.json", "--data-dir", tmp_path)
    assert result.exit_code == 2, result.output
    assert "kind: expected Sensor, got 'EventSource'" in result.stderr


def test_json_output_is_the_records(tmp_path: Path) -> None:
    events = EVENTS / "multi-dependencies.json"
    sensor = SENSORS / "multi-dependencies.yaml"
    result = sensor_test(sensor, "-e", events, "--data-dir", tmp_path, "-o", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    ids = [event["id"] for event in json.loads(events.read_text())]
    assert [r["event"] for r in records] == ids
    outcomes = [t["outcome"] for r in records for d in r["decisions"] for t in d["triggers"]]
    assert outcomes == ["waiting", "would fire"]


def test_every_filter_verdict_is_printed(tmp_path: Path) -> None:
    # filtersLogicalOperator: or, and the exprs pass: the data filters are never run live.
    sensor = SENSORS / "filter-with-multiple-filters-mixed.yaml"
    events = EVENTS / "filter-with-multiple-filters-mixed.json"
    result = sensor_test(sensor, "-e", events, "--data-dir", tmp_path)
    assert result.exit_code == 0, result.output
    for verdict in ("exprs[0] pass", "exprs[1] pass", "data[0] pass", "data[1] FAIL"):
        assert verdict in result.output
