"""Where ``k8s`` and ``argoWorkflow`` triggers get the object they act on: their ``source``.

As Argo's ``FetchKubernetesResource`` (``pkg/sensors/triggers/fetch.go`` and
``pkg/sensors/artifacts``): the first location set, in Argo's order s3, inline, file, url, git,
configmap, resource, is read and decoded as YAML (JSON is YAML). ``url`` is a plain GET that
must answer 200 and at most 512 KiB, and, as in Argo, skips certificate checks unless
``verifyCert`` is true. ``configmap`` reads the local config map (``LocalObjects``). ``s3``
and ``git`` are not supported yet.

Argo retries every read five times inside the fetch; here a read is tried once and its error
says whether the trigger's ``retryStrategy`` may try again: a missing file or config-map key, a
4xx answer or a document that is not an object is permanent; a network error or a 5xx is not.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import yaml

from sensor.models import ArtifactLocation
from sensor.triggers.base import TriggerContext, TriggerError, unsupported

MAX_URL_BYTES = 512 * 1024  # Argo's URLReader reads at most this much
URL_TIMEOUT = aiohttp.ClientTimeout(total=60)


async def fetch_resource(
    source: ArtifactLocation | None, context: TriggerContext, where: str
) -> dict[str, Any]:
    """The object at ``source`` as a fresh dict; :class:`TriggerError` when it cannot be read."""
    if source is None:
        raise TriggerError(f"{where}: the trigger has no source", retryable=False)
    if source.s3 is not None:
        raise unsupported(f"{where}: source s3")
    if source.inline is not None:
        return _decode(source.inline, f"{where}: source.inline")
    if source.file is not None:
        return _decode(_read_file(source.file.path or "", where), f"{where}: source.file")
    if source.url is not None:
        text = await _read_url(source.url.path or "", source.url.verifies_cert, context, where)
        return _decode(text, f"{where}: source.url")
    if source.git is not None:
        raise unsupported(f"{where}: source git")
    if source.configmap is not None:
        selector = source.configmap
        text = context.secret(
            "configmap", selector.name, selector.key, f"{where}: source.configmap"
        )
        return _decode(text, f"{where}: source.configmap")
    if source.resource is not None:
        return _object(copy.deepcopy(source.resource), f"{where}: source.resource")
    raise TriggerError(f"{where}: source sets no location", retryable=False)


def _read_file(path: str, where: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, UnicodeDecodeError) as exc:
        raise TriggerError(f"{where}: source.file: {exc}", retryable=False) from exc
    except OSError as exc:
        raise TriggerError(f"{where}: source.file: {exc}", retryable=True) from exc


async def _read_url(url: str, verify: bool, context: TriggerContext, where: str) -> str:
    what = f"{where}: source.url {url}"
    if urlsplit(url).scheme not in ("http", "https"):
        raise TriggerError(f"{what}: not an http(s) URL", retryable=False)
    try:
        if context.http is not None:
            return await _get(context.http, url, verify, what)
        async with aiohttp.ClientSession(timeout=URL_TIMEOUT) as session:
            return await _get(session, url, verify, what)
    except (aiohttp.InvalidURL, ValueError) as exc:
        raise TriggerError(f"{what}: invalid URL: {exc}", retryable=False) from exc
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise TriggerError(f"{what}: {exc or type(exc).__name__}", retryable=True) from exc


async def _get(session: aiohttp.ClientSession, url: str, verify: bool, what: str) -> str:
    async with session.get(url, ssl=verify, timeout=URL_TIMEOUT) as resp:
        if resp.status != 200:
            raise TriggerError(
                f"{what}: status code {resp.status}",
                retryable=resp.status >= 500 or resp.status in (408, 429),
            )
        body = await resp.content.read(MAX_URL_BYTES + 1)
    if len(body) > MAX_URL_BYTES:
        raise TriggerError(f"{what}: larger than {MAX_URL_BYTES} bytes", retryable=False)
    try:
        return body.decode()
    except UnicodeDecodeError as exc:
        raise TriggerError(f"{what}: not UTF-8 text: {exc}", retryable=False) from exc


def _decode(text: str, where: str) -> dict[str, Any]:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TriggerError(f"{where}: not YAML: {exc}", retryable=False) from exc
    return _object(value, where)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TriggerError(
            f"{where}: expected a Kubernetes object (a mapping), got {type(value).__name__}",
            retryable=False,
        )
    return value
