"""Names on the bus: subjects, stream names, consumer names.

An event's subject is ``<prefix>.<namespace>.<eventSource>.<eventName>``. NATS splits subjects
on ``.`` and gives ``*`` and ``>`` a meaning, and rejects whitespace, so each name is
percent-encoded into one token: everything but ASCII letters, digits, ``-``, ``_`` and ``~``
becomes ``%XX`` of its UTF-8 bytes (``%`` itself included), which ``unescape_token`` reverses.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from eventbus.errors import BusError

DEFAULT_PREFIX = "events"
LOG_PREFIX = "sluicelog"  # bounded record streams (sensor decisions), apart from events
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PLAIN = re.compile(r"[A-Za-z0-9_~-]+")
_CONSUMER = re.compile(r"^[A-Za-z0-9_-]+$")


def escape_token(name: str) -> str:
    """One subject token for ``name``; distinct names give distinct tokens."""
    if not name:
        raise BusError("a name on the bus cannot be empty")
    if _PLAIN.fullmatch(name):  # what quote() leaves alone, but for "."
        return name
    return quote(name, safe="").replace(".", "%2E")


def unescape_token(token: str) -> str:
    """The name ``escape_token`` encoded into ``token``."""
    return unquote(token, errors="strict")


def subject(
    namespace: str, event_source: str, event_name: str, *, prefix: str = DEFAULT_PREFIX
) -> str:
    """The subject one event of one EventSource is published on."""
    parts = (namespace, event_source, event_name)
    return ".".join((prefix, *(escape_token(p) for p in parts)))


def parse_subject(value: str, *, prefix: str = DEFAULT_PREFIX) -> tuple[str, str, str]:
    """(namespace, eventSource, eventName) of a subject built by ``subject``."""
    tokens = value.split(".")
    if len(tokens) != 4 or tokens[0] != prefix:
        raise BusError(f"{value!r} is not an event subject under {prefix!r}")
    ns, src, name = (unescape_token(t) for t in tokens[1:])
    return ns, src, name


def namespace_subjects(namespace: str, *, prefix: str = DEFAULT_PREFIX) -> str:
    """The subjects of every event of one namespace: ``<prefix>.<namespace>.>``."""
    return f"{prefix}.{escape_token(namespace)}.>"


def stream_name(namespace: str) -> str:
    """The stream of one namespace, ``SLUICE_<NAMESPACE>``; ``-`` becomes ``_``.

    Namespaces are Kubernetes DNS labels (lowercase letters, digits and ``-``), so the
    mapping is one-to-one.
    """
    if not _NAMESPACE.match(namespace) or len(namespace) > 63:
        raise BusError(f"namespace {namespace!r} is not a valid Kubernetes namespace name")
    return "SLUICE_" + namespace.upper().replace("-", "_")


def log_stream_name(name: str) -> str:
    """The stream of one record log, ``SLUICELOG_<NAME>``."""
    if not re.match(r"^[a-z0-9][-a-z0-9]*$", name):
        raise BusError(f"log name {name!r} may contain only lowercase letters, digits and '-'")
    return "SLUICELOG_" + name.upper().replace("-", "_")


def check_consumer_name(name: str) -> str:
    """A durable consumer's name: letters, digits, ``-`` and ``_`` only."""
    if not _CONSUMER.match(name):
        raise BusError(f"durable name {name!r} may contain only letters, digits, '-' and '_'")
    return name
