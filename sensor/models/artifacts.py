"""Where a k8s or argoWorkflow trigger gets the resource it creates (``source``).

Argo's ``ArtifactLocation``: the resource inline in the Sensor (``resource`` as YAML, ``inline``
as text), or fetched from a file, a URL, a ConfigMap key, a Git repository or an S3 bucket.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sensor.models.common import ConfigMapKeySelector, SecretKeySelector, SensorModel


class S3Bucket(SensorModel):
    key: str | None = None
    name: str | None = None


class S3Filter(SensorModel):
    prefix: str | None = None
    suffix: str | None = None


class S3Artifact(SensorModel):
    endpoint: str | None = None
    bucket: S3Bucket | None = None
    region: str | None = None
    insecure: bool | None = None
    access_key: SecretKeySelector | None = None
    secret_key: SecretKeySelector | None = None
    events: list[str] | None = None
    filter: S3Filter | None = None
    metadata: dict[str, str] | None = None
    ca_certificate: SecretKeySelector | None = None


class FileArtifact(SensorModel):
    path: str | None = None


class URLArtifact(SensorModel):
    """A resource fetched over HTTP(S).

    Go matches JSON keys case-insensitively, and Argo's own ``url-sensor.yaml`` writes
    ``verifycert``; that spelling is accepted and kept as written so the file round-trips.
    """

    path: str | None = None
    verify_cert: bool | None = None
    verifycert: bool | None = Field(default=None, alias="verifycert")

    @property
    def verifies_cert(self) -> bool:
        return bool(self.verify_cert if self.verify_cert is not None else self.verifycert)


class GitCreds(SensorModel):
    username: SecretKeySelector | None = None
    password: SecretKeySelector | None = None


class GitRemoteConfig(SensorModel):
    name: str | None = None
    urls: list[str] | None = None


class GitArtifact(SensorModel):
    url: str | None = None
    clone_directory: str | None = None
    creds: GitCreds | None = None
    ssh_key_secret: SecretKeySelector | None = None
    file_path: str | None = None
    branch: str | None = None
    tag: str | None = None
    ref: str | None = None
    remote: GitRemoteConfig | None = None
    insecure_ignore_host_key: bool | None = None


class ArtifactLocation(SensorModel):
    s3: S3Artifact | None = None
    inline: str | None = None
    file: FileArtifact | None = None
    url: URLArtifact | None = None
    configmap: ConfigMapKeySelector | None = None
    git: GitArtifact | None = None
    resource: dict[str, Any] | None = None

    def locations(self) -> list[str]:
        """The YAML keys of the locations set; a usable source has exactly one."""
        return [
            field.alias or name
            for name, field in type(self).model_fields.items()
            if getattr(self, name) is not None
        ]
