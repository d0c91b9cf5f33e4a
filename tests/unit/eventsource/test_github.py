"""GitHub delivery signatures and payloads, as go-github's ``ValidatePayload`` reads them."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

import pytest

from eventsource.sources.github import check_signature, payload

BODY = b'{"zen": "Design for failure."}'


def sig(prefix: str, secret: str = "s3cret", body: bytes = BODY) -> str:
    return f"{prefix}=" + hmac.new(secret.encode(), body, getattr(hashlib, prefix)).hexdigest()


@pytest.mark.parametrize(
    ("secret", "headers"),
    [
        (None, {}),
        ("s3cret", {"X-Hub-Signature-256": sig("sha256")}),
        ("s3cret", {"X-Hub-Signature-256": sig("sha256").upper().replace("SHA256", "sha256")}),
        ("s3cret", {"X-Hub-Signature": sig("sha1")}),
        ("s3cret", {"X-Hub-Signature": sig("sha512")}),
        ("s3cret", {"X-Hub-Signature-256": sig("sha256"), "X-Hub-Signature": "sha1=00"}),
    ],
    ids=["no-secret-unsigned", "sha256", "upper-hex", "legacy-sha1", "sha512", "256-wins"],
)
def test_accepted_signatures(secret: str | None, headers: dict[str, str]) -> None:
    check_signature(BODY, secret, headers)


@pytest.mark.parametrize(
    ("secret", "headers", "reason"),
    [
        ("s3cret", {}, "missing signature"),
        (None, {"X-Hub-Signature-256": sig("sha256")}, "no webhookSecret is configured"),
        ("s3cret", {"X-Hub-Signature-256": sig("sha256", "other")}, "signature check failed"),
        ("s3cret", {"X-Hub-Signature-256": sig("sha256", body=b"{}")}, "signature check failed"),
        ("s3cret", {"X-Hub-Signature-256": "abc"}, "error parsing signature"),
        ("s3cret", {"X-Hub-Signature-256": sig("sha1")}, "must be sha256"),
        ("s3cret", {"X-Hub-Signature": "md5=00"}, "unknown hash type prefix"),
        ("s3cret", {"X-Hub-Signature-256": "sha256=xyz"}, "error decoding signature"),
    ],
    ids=[
        "missing",
        "signed-without-secret",
        "other-secret",
        "other-body",
        "no-prefix",
        "sha1-under-256",
        "unknown-hash",
        "not-hex",
    ],
)
def test_refused_signatures(secret: str | None, headers: dict[str, str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_signature(BODY, secret, headers)


@pytest.mark.parametrize(
    ("content_type", "raw", "expected"),
    [
        ("application/json", BODY, BODY),
        ("application/x-www-form-urlencoded", urlencode({"payload": BODY}).encode(), BODY),
        ("application/x-www-form-urlencoded", b"other=1", b""),
    ],
    ids=["json", "form", "form-without-payload"],
)
def test_payload(content_type: str, raw: bytes, expected: bytes) -> None:
    assert payload(content_type, raw) == expected


def test_payload_refuses_other_content_types() -> None:
    with pytest.raises(ValueError, match="unsupported Content-Type 'text/plain'"):
        payload("text/plain", BODY)
