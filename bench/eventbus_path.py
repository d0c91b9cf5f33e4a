"""What sluice's event path costs over raw nats-py, and what one webhook source sustains.

    python bench/eventbus_path.py [--events N] [--inflight K] [--concurrency C] [--batch B]
                                  [--client process|inline] [--profile DIR] [--json]

One run starts an embedded nats-server (a temporary store) and measures, each scenario on a
stream of its own:

(a) raw: nats-py JetStream publish-with-ack of N 1 KB events (K in flight), then a durable pull
    consumer fetching batches of B and acking every message (``Msg.ack``, then a flush);
(b) sluice: the same N events through ``Adaptor.dispatch`` (CloudEvent envelope, publish via
    ``JetStreamBus``, K in flight), then ``JetStreamBus.subscribe(...).fetch`` + ``ack``;
(c) webhook: a real ``WebhookSource`` on a loopback port, driven by an aiohttp client at
    concurrency C with N POSTs of a 1 KB JSON body; accepted (200) events/s, and the stream must
    hold every accepted event.

Prints figures only; never fails on a target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/eventbus_path.py` puts bench/ first, not the root
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import nats  # noqa: E402
import nats.errors  # noqa: E402
from nats.aio.client import Client  # noqa: E402
from nats.js import JetStreamContext, api  # noqa: E402

from eventbus.embedded import EmbeddedNats, free_port  # noqa: E402
from eventbus.jetstream import JetStreamBus  # noqa: E402
from eventbus.streams import StreamSettings  # noqa: E402
from eventbus.subjects import stream_name  # noqa: E402
from eventsource.adaptor import Adaptor  # noqa: E402
from eventsource.models import parse_event_source  # noqa: E402
from eventsource.sources.webhook import WebhookServers, WebhookSource  # noqa: E402

RATIO_TARGET = 0.8  # (b) / (a) events/s
WEBHOOK_TARGET = 3000.0  # accepted webhook events/s on 2 cores
EVENT_BYTES = 1024  # the JSON of one event's data
FETCH_TIMEOUT = 2.0  # seconds a fetch waits for messages
EMPTY_FETCHES = 3  # the consumer gives up after this many empty fetches in a row

NS_RAW, NS_SLUICE, NS_WEBHOOK = "bench-raw", "bench-sluice", "bench-webhook"
SOURCE, EVENT = "bench-source", "bench"
WEBHOOK_SOURCE, WEBHOOK_PATH = "bench-webhook", "/bench"


# ---- the events -------------------------------------------------------------------------------
def event_data(size: int = EVENT_BYTES) -> dict[str, Any]:
    """A JSON object whose compact encoding is exactly ``size`` bytes (for size >= ~150)."""
    data: dict[str, Any] = {
        "kind": "bench",
        "repository": {"name": "sluice", "owner": "bench", "private": False},
        "commits": [{"id": f"{n:040x}", "added": ["a.txt"], "removed": []} for n in range(1)],
        "pad": "",
    }
    data["pad"] = "x" * max(0, size - len(_encode(data)))
    return data


def _encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


DATA = event_data()
PAYLOAD = _encode(DATA)


# ---- figures ----------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of ``values`` by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def latency_ms(latencies: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
    }


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Profiler:
    """cProfile around chosen phases when ``directory`` is set; a no-op otherwise."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.directory is None:
            yield
            return
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            yield
        finally:
            profiler.disable()
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{name}.prof"
            profiler.dump_stats(str(path))
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
            _say(f"profile of {name} written to {path}; top functions by own time:")
            _say(out.getvalue())


# ---- publishing and consuming -----------------------------------------------------------------
async def publish_all(
    n: int, inflight: int, publish_one: Callable[[int], Awaitable[object]]
) -> tuple[float, list[float]]:
    """Seconds to publish events 0..n-1 with ``inflight`` at a time, and each one's latency."""
    latencies = [0.0] * n
    indexes = iter(range(n))

    async def worker() -> None:
        for i in indexes:  # shared by the workers: each index is taken once
            started = time.perf_counter()
            await publish_one(i)
            latencies[i] = time.perf_counter() - started

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(inflight, n)))))
    return time.perf_counter() - start, latencies


async def consume_all(
    n: int, batch: int, fetch: Callable[[int], Awaitable[Sequence[Any]]]
) -> tuple[float, int]:
    """Seconds to fetch and ack ``n`` messages in batches, and how many were acked."""
    acked, empty = 0, 0
    start = time.perf_counter()
    while acked < n and empty < EMPTY_FETCHES:
        msgs = await fetch(min(batch, n - acked))
        if not msgs:
            empty += 1
            continue
        empty = 0
        for msg in msgs:
            await msg.ack()
            acked += 1
    return time.perf_counter() - start, acked


async def consumer_state(
    js: JetStreamContext, stream: str, durable: str, settle: float = 5.0
) -> dict[str, int]:
    """The consumer's undelivered and unacked counts, once the server has applied the acks.

    A plain ``Msg.ack`` is not confirmed, so the server may still be applying the last acks when
    the consumer stops; poll (outside the timings) for up to ``settle`` seconds.
    """
    deadline = time.monotonic() + settle
    while True:
        info = await js.consumer_info(stream, durable)
        state = {
            "num_pending": int(info.num_pending or 0),
            "num_ack_pending": int(info.num_ack_pending or 0),
        }
        if not state["num_ack_pending"] or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.05)


def scenario_figures(
    n: int,
    publish_s: float,
    latencies: list[float],
    consume_s: float,
    consumed: int,
    stored: int,
    state: dict[str, int],
    payload_bytes: int,
) -> dict[str, Any]:
    return {
        "events": n,
        "payload_bytes": payload_bytes,
        "publish_s": round(publish_s, 4),
        "publish_eps": round(rate(n, publish_s), 1),
        "publish_latency": latency_ms(latencies),
        "stored": stored,
        "consume_s": round(consume_s, 4),
        "consume_eps": round(rate(consumed, consume_s), 1),
        "consumed": consumed,
        "eps": round(rate(n, publish_s + consume_s), 1),
        **state,
    }


# ---- (a) raw nats-py ----------------------------------------------------------------------------
async def run_raw(url: str, n: int, inflight: int, batch: int, profile: Profiler) -> dict[str, Any]:
    """Publish-with-ack and a durable pull consumer, straight through nats-py."""
    nc: Client = await nats.connect(url, name="bench-raw")
    try:
        js = nc.jetstream(timeout=5.0)
        stream, subject = "BENCH_RAW", f"{NS_RAW}.{SOURCE}.{EVENT}"
        # the same limits as a sluice namespace's stream
        await js.add_stream(StreamSettings().stream_config(stream, [f"{NS_RAW}.>"]))

        async def publish_one(i: int) -> None:  # a Nats-Msg-Id, as sluice sends, for dedup
            await js.publish(subject, PAYLOAD, timeout=5.0, headers={"Nats-Msg-Id": f"raw-{i}"})

        with profile("a-raw-publish"):
            publish_s, latencies = await publish_all(n, inflight, publish_one)
        stored = int((await js.stream_info(stream)).state.messages)

        durable = "bench-raw"
        sub = await js.pull_subscribe(
            subject,
            durable=durable,
            stream=stream,
            config=api.ConsumerConfig(
                durable_name=durable,
                ack_policy=api.AckPolicy.EXPLICIT,
                deliver_policy=api.DeliverPolicy.ALL,
                ack_wait=30,
                filter_subject=subject,
            ),
        )

        async def fetch(size: int) -> Sequence[Any]:
            try:
                return await sub.fetch(batch=size, timeout=FETCH_TIMEOUT)
            except nats.errors.TimeoutError:
                return []

        with profile("a-raw-consume"):
            start = time.perf_counter()
            _, consumed = await consume_all(n, batch, fetch)
            await nc.flush()  # the acks are on the server, as ack_sync's are
            consume_s = time.perf_counter() - start
        state = await consumer_state(js, stream, durable)
        await sub.unsubscribe()
    finally:
        await nc.close()
    return scenario_figures(
        n, publish_s, latencies, consume_s, consumed, stored, state, len(PAYLOAD)
    )


# ---- (b) sluice's path --------------------------------------------------------------------------
async def run_sluice(
    url: str, checker: JetStreamContext, n: int, inflight: int, batch: int, profile: Profiler
) -> dict[str, Any]:
    """``Adaptor.dispatch`` onto ``JetStreamBus``, then a durable consumer of the bus."""
    bus = JetStreamBus(name="bench-sluice")
    await bus.connect(url)
    try:
        await bus.ensure_stream(NS_SLUICE)
        adaptor = Adaptor(bus, NS_SLUICE, SOURCE)

        async def publish_one(i: int) -> None:
            await adaptor.dispatch(EVENT, "bench", DATA)

        with profile("b-sluice-publish"):
            publish_s, latencies = await publish_all(n, inflight, publish_one)
        stored = await bus.stream_message_count(NS_SLUICE)

        durable = "bench-sluice"
        consumer = await bus.subscribe(adaptor.subject(EVENT), durable, batch=batch)
        payload_bytes = 0

        async def fetch(size: int) -> Sequence[Any]:
            nonlocal payload_bytes
            msgs = await consumer.fetch(size, timeout=FETCH_TIMEOUT)
            if msgs and not payload_bytes:
                payload_bytes = len(msgs[0].data)
            return msgs

        with profile("b-sluice-consume"):
            consume_s, consumed = await consume_all(n, batch, fetch)
        state = await consumer_state(checker, stream_name(NS_SLUICE), durable)
        await consumer.close()
    finally:
        await bus.close()
    return scenario_figures(
        n, publish_s, latencies, consume_s, consumed, stored, state, payload_bytes
    )


# ---- (c) the webhook source ---------------------------------------------------------------------
async def load(url: str, n: int, concurrency: int, body: bytes) -> dict[str, Any]:
    """POST ``body`` to ``url`` ``n`` times, ``concurrency`` at a time: statuses and latencies."""
    statuses: Counter[str] = Counter()
    latencies = [0.0] * n
    indexes = iter(range(n))
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        health = url.rsplit("/", 1)[0] + "/health"

        async def warm() -> None:  # opens the keep-alive connections before the clock starts
            async with session.get(health) as resp:
                await resp.read()

        await asyncio.gather(*(warm() for _ in range(concurrency)))

        async def worker() -> None:
            for i in indexes:
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        statuses[str(resp.status)] += 1
                except aiohttp.ClientError as exc:
                    statuses[type(exc).__name__] += 1
                latencies[i] = time.perf_counter() - started

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, n)))))
        elapsed = time.perf_counter() - start
    return {"elapsed_s": elapsed, "statuses": dict(statuses), "latencies": latencies}


async def load_in_child(url: str, n: int, concurrency: int) -> dict[str, Any]:
    """Run ``load`` in a child process, so the client does not share the server's core."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--load-client",
        url,
        "--events",
        str(n),
        "--concurrency",
        str(concurrency),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the load client exited with {proc.returncode}")
    result: dict[str, Any] = json.loads(out)
    return result


async def run_webhook(
    bus_url: str, n: int, concurrency: int, client: str, profile: Profiler
) -> dict[str, Any]:
    """A real WebhookSource on a loopback port under ``n`` POSTs at ``concurrency``."""
    bus = JetStreamBus(name="bench-webhook")
    await bus.connect(bus_url)
    try:
        await bus.ensure_stream(NS_WEBHOOK)
        port = free_port()
        resource = parse_event_source(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "EventSource",
                "metadata": {"name": WEBHOOK_SOURCE, "namespace": NS_WEBHOOK},
                "spec": {
                    "webhook": {
                        EVENT: {"endpoint": WEBHOOK_PATH, "method": "POST", "port": str(port)}
                    }
                },
            }
        )
        source = WebhookSource(
            resource,
            Adaptor(bus, NS_WEBHOOK, WEBHOOK_SOURCE),
            servers=WebhookServers("127.0.0.1"),
        )
        await source.start()
        try:
            url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
            with profile("c-webhook-server"):
                if client == "inline":
                    result = await load(url, n, concurrency, PAYLOAD)
                else:
                    result = await load_in_child(url, n, concurrency)
        finally:
            await source.stop()
        stored = await bus.stream_message_count(NS_WEBHOOK)
    finally:
        await bus.close()
    statuses: dict[str, int] = result["statuses"]
    accepted = statuses.get("200", 0)
    elapsed = float(result["elapsed_s"])
    return {
        "requests": n,
        "concurrency": concurrency,
        "client": client,
        "body_bytes": len(PAYLOAD),
        "elapsed_s": round(elapsed, 4),
        "accepted": accepted,
        "refused": n - accepted,
        "statuses": statuses,
        "eps": round(rate(accepted, elapsed), 1),
        "request_latency": latency_ms(result["latencies"]),
        "stored": stored,
    }


# ---- the run ------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="events per scenario (N)")
    parser.add_argument(
        "--inflight",
        type=int,
        default=1,
        help="publishes awaiting their ack at once in (a) and (b), the same for both (default 1)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=50, help="concurrent webhook requests in (c)"
    )
    parser.add_argument("--batch", type=int, default=100, help="messages per consumer fetch")
    parser.add_argument(
        "--client",
        choices=("process", "inline"),
        default="process",
        help="run (c)'s load client in a child process (default) or in the server's event loop",
    )
    parser.add_argument(
        "--profile", type=Path, help="write a cProfile of each phase to DIR/<phase>.prof"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.add_argument("--load-client", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.events < 1 or args.inflight < 1 or args.concurrency < 1 or args.batch < 1:
        parser.error("--events, --inflight, --concurrency and --batch must be at least 1")
    return args


async def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run every scenario and return the summary (what ``--json`` prints)."""
    args = parse_args(argv)
    n, profile = args.events, Profiler(args.profile)
    with tempfile.TemporaryDirectory(prefix="sluice-bench-bus-") as tmp:
        server = EmbeddedNats(Path(tmp))
        await server.start()
        checker: Client | None = None
        try:
            checker = await nats.connect(server.url, name="bench-checker")
            checker_js = checker.jetstream()
            _say(f"(a) raw nats-py: {n} events, {args.inflight} in flight")
            raw = await run_raw(server.url, n, args.inflight, args.batch, profile)
            _say(f"(b) sluice Adaptor + JetStreamBus: {n} events, {args.inflight} in flight")
            sluice = await run_sluice(server.url, checker_js, n, args.inflight, args.batch, profile)
            _say(f"(c) webhook: {n} POSTs at concurrency {args.concurrency}")
            webhook = await run_webhook(server.url, n, args.concurrency, args.client, profile)
        finally:
            if checker is not None:
                await checker.close()
            await server.stop()
    ratio = {
        name: round(sluice[key] / raw[key], 3) if raw[key] else 0.0
        for name, key in (
            ("publish", "publish_eps"),
            ("consume", "consume_eps"),
            ("overall", "eps"),
        )
    }
    return {
        "events": n,
        "inflight": args.inflight,
        "batch": args.batch,
        "cores": os.cpu_count(),
        "raw": raw,
        "sluice": sluice,
        "ratio": ratio,
        "webhook": webhook,
        "targets": {
            "ratio": RATIO_TARGET,
            "ratio_met": ratio["overall"] >= RATIO_TARGET,
            "webhook_eps": WEBHOOK_TARGET,
            "webhook_met": webhook["eps"] >= WEBHOOK_TARGET,
        },
    }


def report(summary: dict[str, Any]) -> str:
    """The summary as a table."""
    raw, sluice, hook, ratio = (summary[k] for k in ("raw", "sluice", "webhook", "ratio"))
    targets = summary["targets"]

    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    lines = [
        f"N={summary['events']} events, {summary['inflight']} publish(es) in flight, fetch batch "
        f"{summary['batch']}, {summary['cores']} cores; data {len(PAYLOAD)} B, sluice message "
        f"{sluice['payload_bytes']} B",
        f"{'scenario':<34} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8}  verified",
    ]

    def row(name: str, eps: float, lat: dict[str, float] | None, check: str) -> None:
        p50 = f"{lat['p50_ms']:>8.3f}" if lat else f"{'':>8}"
        p99 = f"{lat['p99_ms']:>8.3f}" if lat else f"{'':>8}"
        lines.append(f"{name:<34} {eps:>9.0f} {p50} {p99}  {check}")

    for label, fig in (("(a) raw nats-py", raw), ("(b) sluice", sluice)):
        n = fig["events"]
        stored = f"{fig['stored']}/{n} stored"
        acked = f"{fig['consumed']}/{n} acked, {fig['num_ack_pending']} ack-pending"
        row(f"{label} publish+ack", fig["publish_eps"], fig["publish_latency"], stored)
        row(f"{label} fetch+ack", fig["consume_eps"], None, acked)
        row(f"{label} overall", fig["eps"], None, "")
    row(
        f"(c) webhook POST, concurrency {hook['concurrency']}",
        hook["eps"],
        hook["request_latency"],
        f"{hook['accepted']}/{hook['requests']} accepted, {hook['stored']} stored",
    )
    lines.append(
        f"ratio (b)/(a): publish {ratio['publish']:.2f}, fetch+ack {ratio['consume']:.2f}, "
        f"overall {ratio['overall']:.2f} (target >= {targets['ratio']}: "
        f"{met(targets['ratio_met'])})"
    )
    lines.append(
        f"webhook: {hook['eps']:.0f} accepted events/s (target >= {targets['webhook_eps']:.0f} "
        f"on 2 cores: {met(targets['webhook_met'])})"
    )
    if hook["refused"]:
        lines.append(f"webhook statuses: {hook['statuses']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.load_client:
        result = asyncio.run(load(args.load_client, args.events, args.concurrency, PAYLOAD))
        print(json.dumps(result))
        return result
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    summary = asyncio.run(run(argv))
    print(json.dumps(summary, indent=2) if args.json else report(summary), flush=True)
    return summary


if __name__ == "__main__":
    main()
