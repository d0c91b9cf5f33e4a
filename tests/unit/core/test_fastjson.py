"""``sluice.core.fastjson``: orjson's speed, the standard library's results."""

from __future__ import annotations

import json
import math

import pytest

from sluice.core import fastjson


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": 1, "b": [1.5, "x", null, true], "c": {"d": "\\u00e9"}}',
        b'{"big": 123456789012345678901234567890, "neg": -9223372036854775809}',
        b'{"in_a_string": "1234567890123456789012345"}',
        '["caf\u00e9", 18446744073709551615]'.encode(),
        '{"a": 1}'.encode("utf-16"),
    ],
)
def test_loads_reads_as_json_does(text: bytes) -> None:
    assert fastjson.loads(text) == json.loads(text)


def test_loads_keeps_large_integers_exact() -> None:
    value = fastjson.loads(b'{"id": 123456789012345678901234567890}')
    assert value["id"] == 123456789012345678901234567890
    assert isinstance(value["id"], int)


def test_loads_takes_what_json_takes_beyond_the_standard() -> None:
    assert math.isnan(fastjson.loads(b'{"x": NaN}')["x"])


def test_loads_refuses_what_is_not_json() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        fastjson.loads(b"{not json")


def test_dumps_is_compact_utf8_with_non_ascii_kept() -> None:
    assert fastjson.dumps({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'.encode()
    assert fastjson.dumps_text({"k": "x y"}) == '{"k":"x y"}'


def test_dumps_writes_what_orjson_refuses_as_json_would() -> None:
    assert fastjson.dumps({"n": 2**70, "é": "ü"}) == '{"n":1180591620717411303424,"é":"ü"}'.encode()
    assert fastjson.dumps({1: "x"}) == b'{"1":"x"}'


def test_dumps_default_turns_the_rest_into_json() -> None:
    class Odd:
        def __repr__(self) -> str:
            return "<odd>"

    assert fastjson.dumps({"o": Odd()}, default=repr) == b'{"o":"<odd>"}'
    with pytest.raises(TypeError):
        fastjson.dumps({"o": Odd()})
