"""What one filtering Sensor costs per event over raw nats-py, and its publish→trigger latency.

    python bench/sensor_path.py [--events N] [--concurrency C] [--rate R] [--latency-events M]
                                [--warmup W] [--publisher inline|process] [--profile DIR] [--json]

One run starts an embedded nats-server (a temporary store) and measures:

(a) raw drain: N CloudEvent messages, byte for byte what sluice's ``Adaptor`` publishes, are
    published with nats-py onto a stream with the same configuration as a sluice namespace's
    stream; then a durable pull consumer configured as the sensor's (explicit acks, the same
    ack wait and max ack pending) fetches batches of the runner's batch size and acks each
    message. Clock: from the first fetch to the flush after the last ack.
(b) sensor drain: the same N events through the ``Adaptor`` onto the bus, then one Sensor run
    as ``sluice up`` runs it (``SensorRuntime.apply``): a dependency with two data filters (a
    JSONPath and a gjson path, each matched against a regex; every event passes) and a ``log``
    trigger. The Sensor is applied once before publishing, so its durable consumer exists, and
    stopped; it is applied again with the N events waiting. Clock: from that ``apply`` to the
    N-th ack (filters, the firing, its KV record, the decision record, the ack).
(c) latency: with the Sensor running, M events (after W unmeasured ones) are published through
    the ``Adaptor`` at a steady R events/s, from this process (as an EventSource shares the
    event loop in ``sluice up``) or from a child process; p50/p99 from the moment ``dispatch``
    is called to the moment the log trigger logs the event.

The trigger's firing is observed by a ``logging.Handler`` on the log trigger's logger that
formats each record as ``sluice up`` does and writes it to /dev/null, noting the time it was
called, which is when ``LogTrigger.fire`` logs. Nothing of sluice is mocked.

Prints figures only; never fails on a target.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/sensor_path.py` puts bench/ first, not the root
    sys.path.insert(0, str(ROOT))

import nats  # noqa: E402
import nats.errors  # noqa: E402
from nats.aio.client import Client  # noqa: E402
from nats.js import JetStreamContext, api  # noqa: E402

from bench.eventbus_path import (  # noqa: E402
    FETCH_TIMEOUT,
    Profiler,
    consume_all,
    consumer_state,
    percentile,
    publish_all,
    rate,
)
from eventbus.embedded import EmbeddedNats  # noqa: E402
from eventbus.jetstream import JetStreamBus  # noqa: E402
from eventbus.streams import StreamSettings  # noqa: E402
from eventbus.subjects import log_stream_name, namespace_subjects, stream_name, subject  # noqa: E402
from eventsource.adaptor import Adaptor, cloud_event  # noqa: E402
from sensor.firing import TriggerContext  # noqa: E402
from sensor.runner import (  # noqa: E402
    CONCURRENCY_ANNOTATION,
    DECISIONS_LOG,
    DEFAULT_CONCURRENCY,
    SensorRunner,
    consumer_name,
)
from sluice.sensors import SensorRuntime  # noqa: E402

DRAIN_TARGET = 5000.0  # events/s through the filtering sensor, on 2 cores
P99_TARGET_MS = 10.0  # publish→trigger at a steady 1,000 events/s
DATA_BYTES = 1024  # the JSON of one event's data
PREPUBLISH_INFLIGHT = 32  # publishes awaiting their ack while filling the stream (not timed)
STALE_PULL_WAIT = 1.5  # > the runner's 1 s fetch wait: a stopped runner's pull has expired
STALL = 15.0  # seconds without a firing before a phase gives up on the missing events
UP_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # what `sluice up` logs

NS_RAW, NS_SENSOR = "bench-raw", "bench-sensor"
SOURCE, EVENT, EVENT_TYPE = "bench-source", "bench", "webhook"
SENSOR, DEPENDENCY, TRIGGER = "bench-sensor", "items", "log-items"
TRIGGER_LOGGER = "sensor.triggers.log"
FILTERS = [
    {"path": "$.body.items[0].name", "type": "string", "value": ["^item-.*$"]},  # JSONPath
    {"path": "body.repository.name", "type": "string", "value": ["^sluice$"]},  # gjson
]
HEADERS = {"Content-Type": "application/cloudevents+json"}  # what the Adaptor sends


# ---- the events and the sensor ------------------------------------------------------------------
def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _bare_data(i: int) -> dict[str, Any]:
    return {
        "header": {"Content-Type": ["application/json"]},
        "body": {
            "items": [{"name": f"item-{i:07d}", "qty": 1}, {"name": "spare", "qty": 2}],
            "repository": {"name": "sluice", "owner": "bench"},
            "pad": "",
        },
    }


_PAD = "x" * max(0, DATA_BYTES - len(_encode(_bare_data(0))))


def event_data(i: int) -> dict[str, Any]:
    """Event i's data: a webhook's ``header`` and ``body``, DATA_BYTES of JSON (i < 10**7)."""
    data = _bare_data(i)
    data["body"]["pad"] = _PAD
    return data


def raw_message(i: int) -> tuple[str, bytes]:
    """(id, bytes) of event i as the Adaptor publishes it: the CloudEvent, encoded alike."""
    event_id = uuid.uuid4().hex
    event = cloud_event(
        event_id=event_id,
        source=SOURCE,
        subject=EVENT,
        event_type=EVENT_TYPE,
        time=datetime.now(UTC),
        data=event_data(i),
    )
    return event_id, _encode(event)


def sensor_manifest(concurrency: int) -> dict[str, Any]:
    """One dependency with the data filters, one log trigger."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {
            "name": SENSOR,
            "namespace": NS_SENSOR,
            "annotations": {CONCURRENCY_ANNOTATION: str(concurrency)},
        },
        "spec": {
            "dependencies": [
                {
                    "name": DEPENDENCY,
                    "eventSourceName": SOURCE,
                    "eventName": EVENT,
                    "filters": {"data": FILTERS},
                }
            ],
            "triggers": [{"template": {"name": TRIGGER, "log": {}}}],
        },
    }


# ---- observing the trigger ----------------------------------------------------------------------
class FiringClock(logging.StreamHandler):
    """Notes when the log trigger logs each event, and writes the line as ``sluice up`` would."""

    def __init__(self) -> None:
        super().__init__(open(os.devnull, "w"))  # noqa: SIM115 - closed in close()
        self.setFormatter(logging.Formatter(UP_LOG_FORMAT))
        self.fired = 0
        self.target = 0
        self.reached = asyncio.Event()
        self.times: dict[str, float] = {}  # event id -> time.time() of its firing

    def expect(self, total: int) -> None:
        """Count from 0 again; ``reached`` is set at the ``total``-th firing."""
        self.fired, self.target = 0, total
        self.times.clear()
        self.reached.clear()

    def emit(self, record: logging.LogRecord) -> None:
        now = time.time()  # first: the moment LogTrigger.fire logs
        super().emit(record)
        context = getattr(record, "eventContext", None) or {}
        self.times[str(context.get("id", ""))] = now
        self.fired += 1
        if self.fired >= self.target:
            self.reached.set()

    def close(self) -> None:
        stream = self.stream
        super().close()
        stream.close()


class Observed:
    """The handler installed on the log trigger's logger (INFO, not propagated) while open."""

    def __init__(self) -> None:
        self.clock = FiringClock()
        self.logger = logging.getLogger(TRIGGER_LOGGER)
        self._saved = (self.logger.level, self.logger.propagate)

    def __enter__(self) -> FiringClock:
        self.logger.addHandler(self.clock)
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        return self.clock

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.clock)
        self.logger.setLevel(self._saved[0])
        self.logger.propagate = self._saved[1]
        self.clock.close()


async def until_fired(clock: FiringClock, stall: float = STALL) -> None:
    """Return at the expected firing, or once nothing fired for ``stall`` seconds."""
    seen, quiet = -1, 0.0
    while not clock.reached.is_set():
        try:
            await asyncio.wait_for(clock.reached.wait(), timeout=1.0)
        except TimeoutError:
            quiet = 0.0 if clock.fired != seen else quiet + 1.0
            seen = clock.fired
            if quiet >= stall:
                return


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---- (a) raw nats-py ----------------------------------------------------------------------------
async def run_raw(url: str, n: int, batch: int, profile: Profiler) -> dict[str, Any]:
    """The same bytes through nats-py: publish, then a durable pull consumer fetching + acking."""
    nc: Client = await nats.connect(url, name="bench-raw")
    try:
        js = nc.jetstream(timeout=5.0)
        stream, subj = stream_name(NS_RAW), subject(NS_RAW, SOURCE, EVENT)
        # the stream configured as JetStreamBus.ensure_stream configures a namespace's
        await js.add_stream(StreamSettings().stream_config(stream, [namespace_subjects(NS_RAW)]))
        messages = [raw_message(i) for i in range(n)]

        async def publish_one(i: int) -> None:
            event_id, payload = messages[i]
            await js.publish(
                subj, payload, timeout=5.0, headers={**HEADERS, "Nats-Msg-Id": event_id}
            )

        await publish_all(n, PREPUBLISH_INFLIGHT, publish_one)
        info = (await js.stream_info(stream)).state
        durable = "bench-raw"
        sub = await js.pull_subscribe(
            subj,
            durable=durable,
            stream=stream,
            config=api.ConsumerConfig(  # as JetStreamBus.subscribe configures the sensor's
                durable_name=durable,
                ack_policy=api.AckPolicy.EXPLICIT,
                deliver_policy=api.DeliverPolicy.ALL,
                ack_wait=30,
                max_ack_pending=max(1000, batch * 4),
                filter_subject=subj,
            ),
        )

        async def fetch(size: int) -> Sequence[Any]:
            try:
                return await sub.fetch(batch=size, timeout=FETCH_TIMEOUT)
            except nats.errors.TimeoutError:
                return []

        with profile("a-raw-drain"):
            start, cpu = time.perf_counter(), time.process_time()
            _, acked = await consume_all(n, batch, fetch)
            await nc.flush()
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        state = await consumer_state(js, stream, durable)
        await sub.unsubscribe()
    finally:
        await nc.close()
    return {
        "events": n,
        "stored": int(info.messages),
        "stored_bytes_per_msg": round(info.bytes / max(1, info.messages)),
        "payload_bytes": len(messages[0][1]),
        "seconds": round(seconds, 4),
        "eps": round(rate(acked, seconds), 1),
        "cpu_us_per_event": round(cpu / n * 1e6, 1),
        "acked": acked,
        **state,
    }


# ---- (b) and (c): the sensor --------------------------------------------------------------------
async def run_sensor(
    url: str, checker: JetStreamContext, args: argparse.Namespace, profile: Profiler
) -> dict[str, Any]:
    """The drain through a Sensor in a SensorRuntime, then its latency at a steady rate."""
    n, key = args.events, (NS_SENSOR, SENSOR)
    manifest = sensor_manifest(args.concurrency)
    bus = JetStreamBus(name="bench-sensor")
    await bus.connect(url)
    runtime = SensorRuntime(bus, TriggerContext())
    try:
        await runtime.apply(manifest)  # creates the stream, the logs and the durable consumer
        runner = runtime.runners[key]
        batch, concurrency = runner.batch, runner.concurrency
        _say("    sensor applied; stopping it to fill the stream")
        await runtime.close()
        await asyncio.sleep(STALE_PULL_WAIT)

        adaptor = Adaptor(bus, NS_SENSOR, SOURCE)

        async def publish_one(i: int) -> None:
            await adaptor.dispatch(EVENT, EVENT_TYPE, event_data(i))

        prepublish_s, _ = await publish_all(n, PREPUBLISH_INFLIGHT, publish_one)
        info = (await checker.stream_info(stream_name(NS_SENSOR))).state
        _say(f"    {n} events published in {prepublish_s:.1f}s; applying the sensor again")

        with Observed() as clock:
            clock.expect(n)
            with profile("b-sensor-drain"):
                start, cpu = time.perf_counter(), time.process_time()
                await runtime.apply(manifest)
                bound = time.perf_counter() - start
                runner = runtime.runners[key]
                await until_fired(clock)
                await until_handled(runner, n if clock.reached.is_set() else 0)
                seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            fired = clock.fired
            state = await consumer_state(checker, stream_name(NS_SENSOR), _durable(runner))
            decisions = await _settled_count(checker, log_stream_name(DECISIONS_LOG), n)
            drain = {
                "events": n,
                "stored": int(info.messages),
                "stored_bytes_per_msg": round(info.bytes / max(1, info.messages)),
                "batch": batch,
                "concurrency": concurrency,
                "bind_ms": round(bound * 1000, 1),
                "seconds": round(seconds, 4),
                "eps": round(rate(_handled(runner), seconds), 1),
                "cpu_us_per_event": round(cpu / n * 1e6, 1),
                "fired": fired,
                "counts": dict(runner.counts),
                "decisions": decisions,
                **state,
            }
            latency = None
            if args.latency_events:
                with profile("c-latency"):
                    latency = await run_latency(url, adaptor, clock, args)
                await until_handled(runner, n + args.warmup + args.latency_events)
                latency["counts"] = dict(runner.counts)
    finally:
        await runtime.close()
        await bus.close()
    return {"drain": drain, "latency": latency}


def _handled(runner: SensorRunner) -> int:
    return sum(runner.counts[k] for k in ("passed", "filtered", "rejected"))


async def until_handled(runner: SensorRunner, n: int, limit: float = 5.0) -> None:
    """Return once the runner has handled (and acked) ``n`` events: its last firing's records
    and ack are a few steps after the firing itself."""
    deadline = time.perf_counter() + limit
    while _handled(runner) < n and time.perf_counter() < deadline:
        await asyncio.sleep(0)


def _durable(runner: SensorRunner) -> str:
    subj = subject(NS_SENSOR, SOURCE, EVENT)
    return consumer_name(NS_SENSOR, runner.name, DEPENDENCY, subj)


async def _message_count(js: JetStreamContext, stream: str) -> int:
    return int((await js.stream_info(stream)).state.messages)


async def _settled_count(js: JetStreamContext, stream: str, expected: int) -> int:
    """The stream's message count once it reaches ``expected`` or stops growing for 2 s: the
    decision records are published without waiting for an ack, so the last may still be on
    their way when the drain ends."""
    count, still = await _message_count(js, stream), 0.0
    while count < expected and still < 2.0:
        await asyncio.sleep(0.05)
        now = await _message_count(js, stream)
        still = 0.0 if now != count else still + 0.05
        count = now
    return count


async def paced(
    total: int, per_second: float, publish_one: Callable[[int], Awaitable[object]]
) -> tuple[list[float], list[float]]:
    """Start publish i at ``i / per_second`` s (open loop); each one's start and ack time."""
    starts, acks = [0.0] * total, [0.0] * total
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []

    async def one(i: int) -> None:
        starts[i] = time.time()
        await publish_one(i)
        acks[i] = time.time()

    begin = loop.time()
    for i in range(total):
        delay = begin + i / per_second - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return starts, acks


def latency_id(i: int) -> str:
    return f"lat-{i:07d}"


async def publish_paced(adaptor: Adaptor, total: int, per_second: float) -> dict[str, Any]:
    async def publish_one(i: int) -> None:
        await adaptor.dispatch(EVENT, EVENT_TYPE, event_data(i), event_id=latency_id(i))

    starts, acks = await paced(total, per_second, publish_one)
    return {"starts": starts, "acks": acks}


async def publish_in_child(url: str, total: int, per_second: float) -> dict[str, Any]:
    """``publish_paced`` in a child process, so the publisher does not share the sensor's core."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--publish-child",
        url,
        "--latency-events",
        str(total),
        "--warmup",
        "0",
        "--rate",
        str(per_second),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the publisher exited with {proc.returncode}")
    result: dict[str, Any] = json.loads(out)
    return result


async def child_publisher(url: str, total: int, per_second: float) -> dict[str, Any]:
    bus = JetStreamBus(name="bench-publisher")
    await bus.connect(url)
    try:
        return await publish_paced(Adaptor(bus, NS_SENSOR, SOURCE), total, per_second)
    finally:
        await bus.close()


async def run_latency(
    url: str, adaptor: Adaptor, clock: FiringClock, args: argparse.Namespace
) -> dict[str, Any]:
    """W + M events at a steady rate; publish→ack and publish→trigger of the last M."""
    warmup, m, per_second = args.warmup, args.latency_events, args.rate
    total = warmup + m
    _say(f"(c) latency: {total} events at {per_second:g}/s, {args.publisher} publisher")
    clock.expect(total)
    if args.publisher == "process":
        published = await publish_in_child(url, total, per_second)
    else:
        published = await publish_paced(adaptor, total, per_second)
    await until_fired(clock)
    starts, acks = published["starts"], published["acks"]
    to_ack, to_fire = [], []
    for i in range(warmup, total):
        fired_at = clock.times.get(latency_id(i))
        to_ack.append(acks[i] - starts[i])
        if fired_at is not None:
            to_fire.append(fired_at - starts[i])
    span = starts[-1] - starts[warmup] if m > 1 else 0.0
    return {
        "rate": per_second,
        "achieved_rate": round((m - 1) / span, 1) if span > 0 else 0.0,
        "events": m,
        "warmup": warmup,
        "publisher": args.publisher,
        "fired": len(to_fire),
        "publish_to_ack": _ms(to_ack),
        "publish_to_trigger": _ms(to_fire),
    }


def _ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.50) * 1000, 3),
        "p99_ms": round(percentile(values, 0.99) * 1000, 3),
        "max_ms": round(max(values, default=0.0) * 1000, 3),
    }


# ---- the run ------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="events per drain (N)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"the sensor's {CONCURRENCY_ANNOTATION} annotation (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s in (c)")
    parser.add_argument(
        "--latency-events", type=int, default=5000, help="measured events in (c); 0 skips (c)"
    )
    parser.add_argument("--warmup", type=int, default=500, help="unmeasured events before (c)")
    parser.add_argument(
        "--publisher",
        choices=("inline", "process"),
        default="inline",
        help="publish (c)'s events in the sensor's event loop (default) or in a child process",
    )
    parser.add_argument(
        "--profile", type=Path, help="write a cProfile of each phase to DIR/<phase>.prof"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.add_argument("--publish-child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.events < 1 or args.concurrency < 1 or args.rate <= 0:
        parser.error("--events and --concurrency must be at least 1, --rate above 0")
    if args.latency_events < 0 or args.warmup < 0:
        parser.error("--latency-events and --warmup cannot be negative")
    return args


async def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run every phase and return the summary (what ``--json`` prints)."""
    args = parse_args(argv)
    profile = Profiler(args.profile)
    with tempfile.TemporaryDirectory(prefix="sluice-bench-sensor-") as tmp:
        server = EmbeddedNats(Path(tmp))
        await server.start()
        checker: Client | None = None
        try:
            checker = await nats.connect(server.url, name="bench-checker")
            checker_js = checker.jetstream()
            batch = inspect.signature(SensorRunner).parameters["batch"].default  # SensorRuntime's
            _say(f"(a) raw nats-py: {args.events} events, fetch batch {batch}")
            raw = await run_raw(server.url, args.events, batch, profile)
            _say(f"(b) sensor: {args.events} events, concurrency {args.concurrency}")
            sensor = await run_sensor(server.url, checker_js, args, profile)
        finally:
            if checker is not None:
                await checker.close()
            await server.stop()
    drain, latency = sensor["drain"], sensor["latency"]
    return {
        "events": args.events,
        "cores": os.cpu_count(),
        "method": "drain: N events stored first, then consumed; clock to the N-th ack",
        "filters": FILTERS,
        "raw": raw,
        "sensor": drain,
        "ratio": round(drain["eps"] / raw["eps"], 3) if raw["eps"] else 0.0,
        "latency": latency,
        "targets": {
            "drain_eps": DRAIN_TARGET,
            "drain_met": drain["eps"] >= DRAIN_TARGET,
            "p99_ms": P99_TARGET_MS,
            "p99_met": (
                latency is not None
                and latency["fired"] == latency["events"]
                and latency["publish_to_trigger"]["p99_ms"] <= P99_TARGET_MS
            ),
        },
    }


def report(summary: dict[str, Any]) -> str:
    """The summary as a table."""
    raw, drain, latency = summary["raw"], summary["sensor"], summary["latency"]
    targets = summary["targets"]

    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    rules = ", ".join(f"{f['path']} ~ {f['value'][0]}" for f in summary["filters"])
    lines = [
        f"N={summary['events']} events, fetch batch {drain['batch']}, sensor concurrency "
        f"{drain['concurrency']}, {summary['cores']} cores; message {raw['payload_bytes']} B "
        f"(a CloudEvent of {DATA_BYTES} B data)",
        f"sensor: data filters [{rules}] (every event passes), log trigger",
        f"method: {summary['method']}; CPU: this process's, nats-server's not included",
        f"{'scenario':<36} {'events/s':>9} {'CPU µs/ev':>9}  verified",
        f"{'(a) raw nats-py fetch+ack':<36} {raw['eps']:>9.0f} {raw['cpu_us_per_event']:>9.0f}  "
        f"{raw['acked']}/{raw['events']} acked, {raw['num_ack_pending']} ack-pending",
        f"{'(b) sensor filter+log trigger+ack':<36} {drain['eps']:>9.0f} "
        f"{drain['cpu_us_per_event']:>9.0f}  {drain['fired']} fired, "
        f"{drain['counts'].get('passed', 0)} passed, {drain['num_ack_pending']} ack-pending, "
        f"{drain['num_pending']} pending, {drain['decisions']} decisions "
        f"(bind {drain['bind_ms']:.0f} ms)",
        f"ratio (b)/(a): {summary['ratio']:.3f}",
    ]
    if latency is not None:
        lines += [
            f"(c) latency at {latency['rate']:g} events/s (achieved {latency['achieved_rate']:.0f}"
            f"/s), {latency['events']} events after {latency['warmup']} warm-up, "
            f"{latency['publisher']} publisher:",
            f"{'':<22} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}",
        ]
        for name, key in (
            ("publish→ack", "publish_to_ack"),
            ("publish→trigger", "publish_to_trigger"),
        ):
            fig = latency[key]
            lines.append(
                f"{name:<22} {fig['p50_ms']:>8.2f} {fig['p99_ms']:>8.2f} {fig['max_ms']:>8.2f}"
            )
        lines.append(f"{'':<22} {latency['fired']}/{latency['events']} fired")
    p99 = met(targets["p99_met"]) if latency is not None else "not measured"
    lines.append(
        f"targets on 2 cores: >= {targets['drain_eps']:.0f} events/s through the sensor: "
        f"{met(targets['drain_met'])}; p99 publish→trigger <= {targets['p99_ms']:g} ms: {p99}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.publish_child:
        result = asyncio.run(child_publisher(args.publish_child, args.latency_events, args.rate))
        print(json.dumps(result))
        return result
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    summary = asyncio.run(run(argv))
    print(json.dumps(summary, indent=2) if args.json else report(summary), flush=True)
    return summary


if __name__ == "__main__":
    main()
