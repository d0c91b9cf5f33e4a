"""What each example under ``examples/workflows/`` must do when sluice runs it.

The examples are Argo Workflows' walk-through examples, changed only where they have to be to
run without container images. This module holds no tests: the integration test runs every file
named in ``EXPECTATIONS`` and checks the workflow it produced against its ``Expect``.

Node names follow Argo's ``displayName``:

* a step or DAG task is named after the step/task (``hello1``, ``A``);
* a loop child is ``name(i:value)`` (``print-message-loop(0:hello world)``); for a map item the
  ``key:value`` pairs are sorted and joined with commas (``test-linux(0:image:debian,tag:9.1)``);
* a retry attempt is ``name(i)``.

A display name can occur more than once in one workflow (nested DAGs reuse task names, recursion
reuses step names, an ``onExit`` handler reruns a template's steps). ``results`` and
``node_phases`` only name nodes that are unique in their workflow. In ``one_of`` a name counts as
Succeeded when at least one node with that display name Succeeded.
"""

from dataclasses import dataclass, field
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples" / "workflows"

SUCCEEDED = "Succeeded"
FAILED = "Failed"
SKIPPED = "Skipped"
OMITTED = "Omitted"


@dataclass(frozen=True)
class Expect:
    phase: str = SUCCEEDED
    # substrings that must appear in the combined logs of all pods
    logs: tuple[str, ...] = ()
    # node displayName -> outputs.result (exact, stripped)
    results: dict[str, str] = field(default_factory=dict)
    # node displayName -> phase (e.g. Skipped, Succeeded)
    node_phases: dict[str, str] = field(default_factory=dict)
    # status.outputs.parameters name -> value
    global_outputs: dict[str, str] = field(default_factory=dict)
    # -p overrides to submit with
    parameters: dict[str, str] = field(default_factory=dict)
    # the test must resume the workflow once it is suspended
    resume: bool = False
    # for random examples: at least one group of displayNames all Succeeded
    one_of: tuple[tuple[str, ...], ...] = ()
    # the test serves GET /get on loopback (answering "hello" when x-header-name is set) and
    # passes its URL as -p url=...
    http_server: bool = False
    # substrings that must not appear in the logs
    forbid_logs: tuple[str, ...] = ()
    # local ConfigMaps the test writes under the data dir first: name -> key -> value
    configmaps: dict[str, dict[str, str]] = field(default_factory=dict)


def _all(phase: str, *names: str) -> dict[str, str]:
    return dict.fromkeys(names, phase)


def _loop(step: str, *items: str) -> tuple[str, ...]:
    """Argo's display names of a loop's children: ``step(0:item0)``, ``step(1:item1)``, ..."""
    return tuple(f"{step}({i}:{item})" for i, item in enumerate(items))


_SEQUENCE_CHILDREN = (
    _loop("sequence-count", "0", "1", "2", "3", "4")
    + _loop("sequence-start-end", "100", "101", "102", "103", "104", "105")
    + _loop("sequence-param", "200", "201", "202")
    + _loop("sequence-negative", "5", "4", "3", "2", "1", "0")
    + _loop("sequence-format", *(f"testuser{i:02X}" for i in range(5)))
)

_OS_ITEMS = (
    "image:debian,tag:9.1",
    "image:debian,tag:8.9",
    "image:alpine,tag:3.6",
    "image:ubuntu,tag:17.10",
)

_DIVIDE = _loop(
    "divide-by-2",
    "evenness:odd,num:1",
    "evenness:even,num:2",
    "evenness:odd,num:3",
    "evenness:even,num:4",
)

EXPECTATIONS: dict[str, Expect] = {
    "hello-world.yaml": Expect(logs=("hello world",)),
    "steps.yaml": Expect(
        logs=("hello1", "hello2a", "hello2b"),
        node_phases=_all(SUCCEEDED, "hello1", "hello2a", "hello2b"),
    ),
    "dag-diamond.yaml": Expect(node_phases=_all(SUCCEEDED, "A", "B", "C", "D")),
    "dag-multiroot.yaml": Expect(node_phases=_all(SUCCEEDED, "A", "B", "C", "D")),
    # Outer and inner tasks share the names A..D, so the 16 echoed messages are the evidence.
    "dag-nested.yaml": Expect(logs=tuple(o + i for o in "ABCD" for i in "ABCD")),
    # C fails, but its failure is handled by `C.Failed` / `B || C`; the DAG's leaves succeed.
    "dag-enhanced-depends.yaml": Expect(
        node_phases={
            "A": SUCCEEDED,
            "B": SUCCEEDED,
            "C": FAILED,
            "should-execute-1": SUCCEEDED,
            "should-execute-2": SUCCEEDED,
            "should-not-execute": OMITTED,
            "should-execute-3": SUCCEEDED,
        },
    ),
    "scripts-bash.yaml": Expect(
        logs=("result was: ",),
        node_phases=_all(SUCCEEDED, "generate", "print"),
    ),
    "scripts-python.yaml": Expect(
        logs=("result was: ",),
        node_phases=_all(SUCCEEDED, "generate", "print"),
    ),
    "output-parameter.yaml": Expect(
        logs=("hello world",),
        node_phases=_all(SUCCEEDED, "generate-parameter", "consume-parameter"),
    ),
    "arguments-parameters.yaml": Expect(
        logs=("goodbye world",),
        parameters={"message": "goodbye world"},
    ),
    "global-parameters.yaml": Expect(logs=("hello world",)),
    # consume-global-param/-art run twice: as steps of consume-globals and in the onExit handler.
    "global-outputs.yaml": Expect(
        logs=("hello world",),
        node_phases=_all(SUCCEEDED, "generate", "consume-globals"),
        global_outputs={"my-global-param": "hello world"},
    ),
    "loops.yaml": Expect(
        logs=("hello world", "goodbye world"),
        node_phases=_all(SUCCEEDED, *_loop("print-message-loop", "hello world", "goodbye world")),
    ),
    "loops-maps.yaml": Expect(
        logs=("debian:9.1", "debian:8.9", "alpine:3.6", "ubuntu:17.10"),
        node_phases=_all(SUCCEEDED, *_loop("test-linux", *_OS_ITEMS)),
    ),
    "loops-param-result.yaml": Expect(
        logs=("sleeping for 20 seconds", "sleeping for 30 seconds", "done"),
        results={"generate": "[20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]"},
        node_phases=_all(SUCCEEDED, *_loop("sleep", *(str(n) for n in range(20, 31)))),
    ),
    "loops-sequence.yaml": Expect(
        logs=("testuser00", "testuser04", "105", "202"),
        node_phases=_all(SUCCEEDED, *_SEQUENCE_CHILDREN),
    ),
    "coinflip.yaml": Expect(
        node_phases={"flip-coin": SUCCEEDED},
        one_of=(("heads",), ("tails",)),
    ),
    # Recursion repeats flip-coin/heads/tails; it ends only once a flip comes up heads.
    "coinflip-recursive.yaml": Expect(
        logs=("it was heads",),
        one_of=(("flip-coin", "heads"),),
    ),
    "conditionals.yaml": Expect(
        logs=("hello",),
        node_phases=_all(
            SUCCEEDED, "print-hello-govaluate", "print-hello-expr", "print-hello-expr-json"
        ),
    ),
    # Outputs of loop children are aggregated in loop-index order; odd numbers skip divide-by-2,
    # whose results ([1,2]) drive the last loop.
    "parameter-aggregation.yaml": Expect(
        logs=('["1","2","3","4"]', '["odd","even","odd","even"]'),
        results={_DIVIDE[1]: "1", _DIVIDE[3]: "2"},
        node_phases={
            **_all(SUCCEEDED, *_loop("odd-or-even", "1", "2", "3", "4")),
            "print-nums": SUCCEEDED,
            "print-evenness": SUCCEEDED,
            _DIVIDE[0]: SKIPPED,
            _DIVIDE[1]: SUCCEEDED,
            _DIVIDE[2]: SKIPPED,
            _DIVIDE[3]: SUCCEEDED,
            **_all(SUCCEEDED, *_loop("print", "1", "2")),
        },
    ),
    # approve suspends until resumed; delay then suspends for 1 s on its own.
    "suspend-template.yaml": Expect(
        logs=("hello world",),
        node_phases=_all(SUCCEEDED, "build", "approve", "delay", "release"),
        resume=True,
    ),
    "volumes-emptydir.yaml": Expect(logs=("Volume mounted and found",)),
    "volumes-pvc.yaml": Expect(
        logs=(
            "generating message in volume",
            "getting message from volume",
            "/mnt/vol/hello_world.txt",
            "hello world",
        ),
        node_phases=_all(SUCCEEDED, "generate", "print"),
    ),
    # --- failure handling (engine part 2) ---
    "retry-backoff.yaml": Expect(logs=("try 0", "try 1", "try 2")),
    "retry-with-steps.yaml": Expect(
        node_phases={
            "hello1": SUCCEEDED,
            "hello1(0)": FAILED,
            "hello1(1)": SUCCEEDED,
            "hello2a(0)": FAILED,
            "hello2a(1)": SUCCEEDED,
            "hello2b(0)": FAILED,
            "hello2b(1)": SUCCEEDED,
        },
    ),
    "exit-handlers.yaml": Expect(
        phase=FAILED,
        logs=("intentional failure", "boohoo!", "send e-mail:", "Failed steps [{"),
        node_phases={"notify": SUCCEEDED, "celebrate": SKIPPED, "cry": SUCCEEDED},
    ),
    "exit-handler-step-level.yaml": Expect(
        logs=("hello1", "hello2a", "hello2b", "step cleanup"),
        node_phases={
            "hello1.onExit": SUCCEEDED,
            "hello2a.onExit": SUCCEEDED,
            "hello2b.onExit": SUCCEEDED,
        },
    ),
    "timeouts-workflow.yaml": Expect(phase=FAILED, logs=("sleeping for 1m",)),
    "timeouts-step.yaml": Expect(phase=FAILED, logs=("sleeping for 1m",)),
    "retry-notify-on-failure.yaml": Expect(
        parameters={"fail-times": "1"},
        logs=("loading data/example.json try 0", "loading data/example.json try 1"),
        node_phases={"load(0)": FAILED, "load(1)": SUCCEEDED, "notify-failure": SKIPPED},
    ),
    "http-hello-world.yaml": Expect(
        http_server=True,
        results={"get-google-homepage": "hello test-value"},
        node_phases={"get-google-homepage": SUCCEEDED},
    ),
    # two pods at once, never three; whether one ever runs alone is down to timing
    "parallelism-limit.yaml": Expect(logs=("running: 2",), forbid_logs=("running: 3",)),
    "parallelism-nested.yaml": Expect(logs=("step 1-a", "step 4-d")),
    "synchronization-mutex-wf-level.yaml": Expect(logs=("hello world",)),
    "synchronization-tmpl-level.yaml": Expect(
        configmaps={"my-config": {"template": "2"}},
        logs=("holding:", "acquired lock"),
        forbid_logs=("holding: 3",),
    ),
    "daemon-step.yaml": Expect(
        logs=("daemon answered 200",),
        node_phases={"server": SUCCEEDED, "client-a": SUCCEEDED, "client-b": SUCCEEDED},
    ),
    "sidecar.yaml": Expect(logs=("sidecar answered 200",)),
    "container-set.yaml": Expect(
        logs=("main: hello world",),
        node_phases={"a": SUCCEEDED, "b": SUCCEEDED, "main": SUCCEEDED},
    ),
}
