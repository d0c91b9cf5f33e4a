"""EventBus resources as Argo writes them load; mistakes name their path."""

from __future__ import annotations

import pytest

from eventbus.errors import BusError
from eventbus.models import EventBus, load_eventbus
from sluice.core.errors import SpecError
from sluice.core.resources import parse_documents

JETSTREAM = """
apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata:
  name: default
  namespace: argo-events
spec:
  jetstream:
    version: "2.10.10"
    replicas: 3
    persistence:
      storageClassName: standard
      accessMode: ReadWriteOnce
      volumeSize: 10Gi
    containerTemplate:
      resources:
        requests: {cpu: 100m}
    startArgs: ["-D"]
    settings: |
      max_file_store: 1GB
    maxPayload: "2MB"
    streamConfig: |
      maxMsgs: 50000
      maxAge: 168h
      maxBytes: 1GB
      replicas: 1
      duplicates: 300s
"""

EXOTIC = """
apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata: {name: default}
spec:
  jetstreamExotic:
    url: nats://nats.example.com:4222
    accessSecret: {name: nats-token, key: token}
    streamConfig: "maxAge: 24h"
"""

NATIVE = """
apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata: {name: default}
spec:
  nats:
    native:
      replicas: 3
      auth: token
      antiAffinity: true
      maxAge: 72h
      maxMsgs: 100
"""


def load(text: str) -> EventBus:
    [raw] = parse_documents(text, "bus.yaml")
    return load_eventbus(raw)


def test_jetstream_bus_loads() -> None:
    bus = load(JETSTREAM)
    assert bus.url is None  # embedded
    js = bus.spec.jetstream
    assert js is not None and js.replicas == 3 and js.start_args == ["-D"]
    assert js.persistence is not None and js.persistence.volume_size == "10Gi"
    assert bus.max_payload == "2MB"
    assert bus.stream_config() == {
        "maxMsgs": 50000,
        "maxAge": "168h",
        "maxBytes": "1GB",
        "replicas": 1,
        "duplicates": "300s",
    }
    assert bus.to_yaml_dict()["spec"]["jetstream"]["streamConfig"].startswith("maxMsgs")


def test_jetstream_exotic_bus_loads() -> None:
    bus = load(EXOTIC)
    assert bus.url == "nats://nats.example.com:4222"
    exotic = bus.spec.jetstream_exotic
    assert exotic is not None and exotic.access_secret is not None
    assert exotic.access_secret.key == "token"
    assert bus.stream_config() == {"maxAge": "24h"}


def test_native_nats_bus_means_embedded() -> None:
    bus = load(NATIVE)
    assert bus.url is None
    assert bus.stream_config() == {"maxAge": "72h", "maxMsgs": 100}


def test_exotic_nats_bus_uses_its_url() -> None:
    bus = load(
        NATIVE.split("spec:")[0]
        + "spec:\n  nats:\n    exotic:\n      url: nats://x:4222\n      clusterID: c\n"
    )
    assert bus.url == "nats://x:4222"
    assert bus.spec.nats is not None and bus.spec.nats.exotic is not None
    assert bus.spec.nats.exotic.cluster_id == "c"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            JETSTREAM.replace("streamConfig:", "streamConfg:"),
            "spec.jetstream.streamConfg: unknown field; did you mean 'streamConfig'?",
        ),
        (
            EXOTIC.replace(
                "accessSecret: {name: nats-token, key: token}", "accessSecret: {nam: x}"
            ),
            "spec.jetstreamExotic.accessSecret.nam: unknown field; did you mean 'name'?",
        ),
        (
            EXOTIC.replace("spec:", "spec:\n  jetstream: {version: x}"),
            "spec: give exactly one of 'jetstream', 'jetstreamExotic', 'nats' and 'kafka'",
        ),
        (
            NATIVE.replace("    native:", "    exotic: {url: nats://x}\n    native:"),
            "spec.nats: give exactly one of 'native' and 'exotic'",
        ),
    ],
    ids=["typo", "nested-typo", "two-buses", "native-and-exotic"],
)
def test_spec_errors_name_the_path(text: str, problem: str) -> None:
    with pytest.raises(SpecError) as info:
        load(text)
    assert f"bus.yaml: document 1 (EventBus default): {problem}" in info.value.problems


def test_bad_stream_config_yaml_is_a_bus_error() -> None:
    bus = load(EXOTIC.replace('"maxAge: 24h"', '"- a list"'))
    with pytest.raises(BusError, match="must be a mapping"):
        bus.stream_config()
