"""moto in server mode, so the AWS sources are tested with the real boto3 over real HTTP.

``moto_server`` is one server per test session on a free ``127.0.0.1`` port (port 0: the kernel
picks it, so there is no race with another process); it serves every AWS service at one
endpoint. moto keeps its state per process and per account, so tests keep apart by naming
their queues, buckets and topics uniquely. ``aws_env`` gives a test fake credentials and a
region through the environment, and hides the developer's own AWS configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The endpoint URL (``http://127.0.0.1:PORT``) of a running moto server."""
    access_log = logging.getLogger("werkzeug")  # one INFO line per request otherwise
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        access_log.setLevel(level)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fake credentials and ``REGION`` for boto3's default chain; no profile, no IMDS."""
    empty = tmp_path_factory.mktemp("aws-config") / "none"
    empty.write_text("")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)


__all__ = ["ACCOUNT", "REGION", "aws_env", "moto_server"]
