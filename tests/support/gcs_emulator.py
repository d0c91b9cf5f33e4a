"""A local GCS for the upload recipes: ``gcp-storage-emulator`` on a free loopback port.

The ``fake-gcs-server`` wheel is not on the package index this project installs from, so the
Python emulator stands in: it speaks the JSON API that uploads and downloads use, and its
object resources have the fields a GCS notification carries (``name``, ``bucket``,
``generation``, ``mediaLink``, ...). It does not send notifications: a test publishes the one
GCS would send (see :func:`notification`).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from gcp_storage_emulator.server import create_server

from tests.conftest import free_port


@dataclass
class GCS:
    """The running emulator: its base URL and the calls the tests need."""

    url: str

    def _call(self, method: str, path: str, body: bytes, content_type: str) -> Any:
        request = urllib.request.Request(
            self.url + path, data=body, method=method, headers={"Content-Type": content_type}
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read())

    def create_bucket(self, name: str) -> dict[str, Any]:
        body = json.dumps({"name": name}).encode()
        return dict(self._call("POST", "/storage/v1/b?project=test", body, "application/json"))

    def upload(self, bucket: str, name: str, content: bytes) -> dict[str, Any]:
        """Upload an object; returns its resource, as the JSON API gives it.

        A multipart upload, as client libraries send it: the emulator's media upload refuses
        an empty object (a folder placeholder) and parses a JSON content type into a dict.
        """
        boundary = uuid.uuid4().hex
        body = b"".join(
            [
                f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
                json.dumps({"name": name}).encode(),
                f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n".encode(),
                content,
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        path = f"/upload/storage/v1/b/{urllib.parse.quote(bucket)}/o?uploadType=multipart"
        return dict(self._call("POST", path, body, f"multipart/related; boundary={boundary}"))


def notification(resource: dict[str, Any], config_id: str = "1") -> tuple[bytes, dict[str, str]]:
    """The Pub/Sub message GCS publishes for a finished upload (``-f json``): the object
    resource as data, and GCS's attributes."""
    bucket = resource["bucket"]
    attributes = {
        "notificationConfig": f"projects/_/buckets/{bucket}/notificationConfigs/{config_id}",
        "eventType": "OBJECT_FINALIZE",
        "payloadFormat": "JSON_API_V1",
        "bucketId": bucket,
        "objectId": resource["name"],
        "objectGeneration": str(resource["generation"]),
        "eventTime": resource["updated"],
    }
    return json.dumps(resource).encode(), attributes


@pytest.fixture(scope="session")
def gcs() -> Iterator[GCS]:
    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    try:
        yield GCS(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
