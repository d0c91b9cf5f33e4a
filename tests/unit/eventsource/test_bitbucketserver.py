"""Bitbucket Server signatures and the split of a refs_changed event per change."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from eventsource.sources.bitbucketserver import check_signature, split_changes

BODY = b'{"eventKey": "repo:refs_changed"}'
GOOD = "sha256=" + hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("secret", "signature", "reason"),
    [
        (None, None, None),
        (None, "sha256=whatever", None),
        ("s3cret", GOOD, None),
        ("s3cret", None, "missing signature header"),
        ("s3cret", "", "missing signature header"),
        ("other", GOOD, "hmac verification failed"),
        ("s3cret", GOOD.replace("sha256=", "sha1=xx"), "hmac verification failed"),
        ("s3cret", GOOD[:-1], "hmac verification failed"),
    ],
    ids=[
        "no-secret",
        "no-secret-signed",
        "good",
        "missing",
        "empty",
        "other-secret",
        "other-prefix",
        "truncated",
    ],
)
def test_signatures(secret: str | None, signature: str | None, reason: str | None) -> None:
    if reason is None:
        check_signature(BODY, secret, signature)
    else:
        with pytest.raises(ValueError, match=reason):
            check_signature(BODY, secret, signature)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"a": 1, "changes": [1, 2]}, [{"a": 1, "changes": [1]}, {"a": 1, "changes": [2]}]),
        ({"a": 1, "changes": []}, []),
        ({"a": 1}, [{"a": 1}]),
        ([1], [[1]]),
    ],
    ids=["two-changes", "no-changes", "no-changes-key", "not-object"],
)
def test_split_changes(body: Any, expected: list[Any]) -> None:
    assert split_changes(body) == expected
