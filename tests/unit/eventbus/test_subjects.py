"""Subject and stream names: names escape into one token each, reversibly."""

from __future__ import annotations

import pytest

from eventbus.errors import BusError
from eventbus.streams import StreamSettings, parse_duration, parse_size
from eventbus.subjects import (
    check_consumer_name,
    escape_token,
    parse_subject,
    stream_name,
    subject,
    unescape_token,
)

NAMES = ["plain", "with.dot", "with space", "star*", "gt>", "100%", "ünï", "a%2Eb", "tab\tx", "-_~"]


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_escape_is_one_safe_token_and_reversible(name: str) -> None:
    token = escape_token(name)
    assert not set(token) & set(". *>\t")
    assert unescape_token(token) == name


def test_distinct_names_give_distinct_tokens() -> None:
    assert len({escape_token(n) for n in NAMES}) == len(NAMES)


def test_subject_layout() -> None:
    value = subject("default", "my.source", "on upload")
    assert value == "events.default.my%2Esource.on%20upload"
    assert parse_subject(value) == ("default", "my.source", "on upload")
    assert subject("ns", "s", "e", prefix="bus") == "bus.ns.s.e"


def test_empty_name_is_an_error() -> None:
    with pytest.raises(BusError, match="cannot be empty"):
        subject("default", "", "e")


@pytest.mark.parametrize(
    ("namespace", "stream"),
    [("default", "SLUICE_DEFAULT"), ("argo-events", "SLUICE_ARGO_EVENTS"), ("a1", "SLUICE_A1")],
    ids=["default", "dash", "digit"],
)
def test_stream_names(namespace: str, stream: str) -> None:
    assert stream_name(namespace) == stream


@pytest.mark.parametrize("namespace", ["Default", "a_b", "a.b", "-a", ""], ids=repr)
def test_invalid_namespaces(namespace: str) -> None:
    with pytest.raises(BusError, match="not a valid Kubernetes namespace"):
        stream_name(namespace)


def test_consumer_names() -> None:
    assert check_consumer_name("sensor_dep-1") == "sensor_dep-1"
    with pytest.raises(BusError):
        check_consumer_name("a.b")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("72h", 259200.0), ("4h35m", 16500.0), ("300s", 300.0), ("500ms", 0.5), (90, 90.0)],
    ids=["hours", "mixed", "seconds", "millis", "number"],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text, "maxAge") == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "size"),
    [("1GB", 10**9), ("512Mi", 512 * 2**20), ("1048576", 1048576), (-1, -1), ("-1", -1)],
    ids=["GB", "Mi", "digits", "int", "unlimited"],
)
def test_sizes(text: str | int, size: int) -> None:
    assert parse_size(text, "maxBytes") == size


def test_stream_settings_defaults_and_errors() -> None:
    assert StreamSettings.from_config(None) == StreamSettings()
    assert StreamSettings.from_config({"maxMsgs": 0}).max_msgs == -1
    with pytest.raises(BusError, match=r"streamConfig\.maxAge"):
        StreamSettings.from_config({"maxAge": "forever"})
