"""``sluice retry``, ``resubmit`` and ``archive`` as a user runs them: in-process and on a server.

The workflow under test has a first step that appends a line to a file in a hostPath volume (so
the test can count how often it ran) and a second step that fails until the test creates ``ok``
in that volume.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.test_cli import env, sluice  # noqa: F401 - env is a fixture
from tests.integration.test_server import server  # noqa: F401 - a fixture

FLAKY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: flaky-}}
spec:
  entrypoint: main
  arguments: {{parameters: [{{name: greeting, value: hello}}]}}
  volumes: [{{name: m, hostPath: {{path: "{marker}"}}}}]
  templates:
  - name: main
    steps: [[{{name: step1, template: count}}], [{{name: step2, template: check}}]]
  - name: count
    container:
      image: alpine
      command: [sh, -c, "echo ran >> /m/count"]
      volumeMounts: [{{name: m, mountPath: /m}}]
  - name: check
    container:
      image: alpine
      command: [test, -e, /m/ok]
      volumeMounts: [{{name: m, mountPath: /m}}]
"""


@pytest.fixture(params=["in-process", "server"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def cli(request: pytest.FixtureRequest, mode: str) -> dict[str, str]:
    """The CLI's environment: no server answers (in-process), or a ``sluice server`` does."""
    result: dict[str, str] = request.getfixturevalue("env" if mode == "in-process" else "server")
    return result


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "m"
    path.mkdir()
    return path


@pytest.fixture
def flaky(tmp_path: Path, marker: Path) -> str:
    path = tmp_path / "flaky.yaml"
    path.write_text(FLAKY.format(marker=marker))
    return str(path)


def runs(marker: Path) -> int:
    """How many times step1 has run."""
    return len((marker / "count").read_text().splitlines())


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def wait_json(proc: subprocess.CompletedProcess[str], code: int = 0) -> dict[str, Any]:
    assert proc.returncode == code, proc.stdout + proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def failed_run(cli: dict[str, str], flaky: str, marker: Path) -> dict[str, Any]:
    """Submit the workflow and wait for it to fail at step2."""
    wf = wait_json(sluice(cli, "submit", flaky, "--wait", "-o", "json"), code=1)
    assert wf["status"]["phase"] == "Failed" and runs(marker) == 1
    return wf


def phases(wf: dict[str, Any]) -> dict[str, str]:
    return {n["displayName"]: n["phase"] for n in wf["status"]["nodes"].values()}


def test_retry_reruns_only_what_failed(
    cli: dict[str, str], mode: str, flaky: str, marker: Path
) -> None:
    name = failed_run(cli, flaky, marker)["metadata"]["name"]
    (marker / "ok").touch()
    retried = ok(sluice(cli, "retry", name))
    if mode == "in-process":  # nothing else would run it: the command ran it to the end
        first, last = retried.stdout.splitlines()
        assert first == f"Name: {name}" and last.startswith(f"{name} Succeeded at ")
    else:  # the server runs it: the command printed it and returned, as argo retry does
        assert f"Name:                {name}" in retried.stdout
        assert "Status:              Running" in retried.stdout
        ok(sluice(cli, "watch", name))
    final = wait_json(sluice(cli, "get", name, "-o", "json"))
    assert final["status"]["phase"] == "Succeeded"
    assert phases(final)["step2"] == "Succeeded"
    assert runs(marker) == 1  # step1 kept its success

    again = sluice(cli, "retry", name)
    assert again.returncode == 1
    assert "only a Failed or Error workflow can be retried" in again.stderr

    rerun = sluice(
        cli, "retry", name, "--restart-successful", "--node-field-selector", "displayName=step1",
        "--wait", "-o", "json",
    )  # fmt: skip
    assert wait_json(rerun)["status"]["phase"] == "Succeeded"
    assert runs(marker) == 2


def test_retry_wait_exits_1_when_it_fails_again(
    cli: dict[str, str], flaky: str, marker: Path
) -> None:
    name = failed_run(cli, flaky, marker)["metadata"]["name"]
    proc = sluice(cli, "retry", name, "--wait")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1].startswith(f"{name} Failed at ")
    assert runs(marker) == 1
    missing = sluice(cli, "retry", "nope")
    assert missing.returncode == 1 and 'workflows.argoproj.io "nope" not found' in missing.stderr


@pytest.mark.parametrize(("memoized", "step1_runs"), [(False, 2), (True, 1)],
                         ids=["plain", "memoized"])  # fmt: skip
def test_resubmit_is_a_new_workflow(
    cli: dict[str, str], flaky: str, marker: Path, memoized: bool, step1_runs: int
) -> None:
    old = failed_run(cli, flaky, marker)["metadata"]["name"]
    (marker / "ok").touch()
    args = ["--memoized"] if memoized else []
    new = wait_json(sluice(cli, "resubmit", old, *args, "--wait", "-o", "json"))
    name = new["metadata"]["name"]
    assert name != old and name.startswith("flaky-")
    assert new["metadata"]["labels"]["workflows.argoproj.io/resubmitted-from-workflow"] == old
    assert new["status"]["phase"] == "Succeeded"
    assert runs(marker) == step1_runs
    # the old one is still there, unchanged
    assert wait_json(sluice(cli, "get", old, "-o", "json"))["status"]["phase"] == "Failed"


def test_archive_list_get_delete(cli: dict[str, str], flaky: str, marker: Path) -> None:
    failed = failed_run(cli, flaky, marker)
    (marker / "ok").touch()
    passed = wait_json(sluice(cli, "submit", flaky, "--wait", "-o", "json"))
    uids = {wf["metadata"]["name"]: wf["metadata"]["uid"] for wf in (failed, passed)}

    listed = ok(sluice(cli, "archive", "list")).stdout.splitlines()
    assert listed[0].split() == [
        "NAMESPACE", "NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE", "P/R/C",
        "PARAMETERS", "UID",
    ]  # fmt: skip
    rows = {line.split()[1]: line.split() for line in listed[1:]}
    assert set(rows) == set(uids)
    passed_row = rows[passed["metadata"]["name"]]
    assert passed_row[0] == "default" and passed_row[2] == "Succeeded"
    assert passed_row[-3:] == ["0/0/2", "greeting=hello", uids[passed["metadata"]["name"]]]
    assert rows[failed["metadata"]["name"]][-1] == uids[failed["metadata"]["name"]]
    names = ok(sluice(cli, "archive", "list", "-o", "name")).stdout.split()
    assert sorted(names) == sorted(uids)
    other = ok(sluice(cli, "archive", "list", "-n", "elsewhere")).stdout
    assert other == "No workflows found\n"

    uid = uids[failed["metadata"]["name"]]
    shown = ok(sluice(cli, "archive", "get", uid)).stdout
    assert f"Name:                {failed['metadata']['name']}" in shown
    assert "Status:              Failed" in shown
    assert "✖ step2" in shown  # the node tree, as sluice get draws it
    archived = wait_json(sluice(cli, "archive", "get", uid, "-o", "json"))
    assert archived["metadata"]["uid"] == uid
    assert phases(archived) == phases(failed)

    deleted = ok(sluice(cli, "archive", "delete", uid))
    assert deleted.stdout == f"Archived workflow '{uid}' deleted\n"
    remaining = json.loads(ok(sluice(cli, "archive", "list", "-o", "json")).stdout)
    assert [w["metadata"]["uid"] for w in remaining] == [uids[passed["metadata"]["name"]]]
    gone = sluice(cli, "archive", "get", uid)
    assert gone.returncode == 1 and f'archived workflow "{uid}" not found' in gone.stderr
    assert sluice(cli, "archive", "delete", uid).returncode == 1
    # the archive holds a copy: the live workflow is still there
    ok(sluice(cli, "get", failed["metadata"]["name"]))


async def test_archive_retry_resubmit_rest_shape(
    server: dict[str, str],  # noqa: F811 - the fixture
    flaky: str,
    marker: Path,
) -> None:
    base = server["SLUICE_SERVER"]
    name = failed_run(server, flaky, marker)["metadata"]["name"]
    async with aiohttp.ClientSession() as http:
        url = f"{base}/api/v1/archived-workflows"
        selector = {"listOptions.fieldSelector": "metadata.namespace=default"}
        async with http.get(url, params=selector) as r:
            items = (await r.json())["items"]
            assert r.status == 200 and [w["metadata"]["name"] for w in items] == [name]
        uid = items[0]["metadata"]["uid"]
        assert items[0]["status"]["nodes"]  # full workflows, nodes included
        async with http.get(url, params={"listOptions.fieldSelector": "metadata.namespace=x"}) as r:
            assert (await r.json())["items"] == []
        async with http.get(url, params={"listOptions.fieldSelector": "spec.x=1"}) as r:
            assert r.status == 400 and "spec.x=1" in (await r.json())["message"]
        async with http.get(f"{url}/{uid}") as r:
            assert r.status == 200 and (await r.json())["metadata"]["name"] == name
        async with http.get(f"{url}/nope") as r:
            assert r.status == 404 and "not found" in (await r.json())["message"]

        wf_url = f"{base}/api/v1/workflows/default/{name}"
        async with http.put(f"{wf_url}/resubmit", json={"memoized": "yes"}) as r:
            assert r.status == 400 and "memoized" in (await r.json())["message"]
        (marker / "ok").touch()
        async with http.put(f"{wf_url}/retry", json={"restartSuccessful": False}) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["metadata"]["name"] == name
        async with http.put(f"{wf_url}/resubmit") as r:  # no body at all
            assert r.status == 200, await r.text()
            new = (await r.json())["metadata"]["name"]
            assert new != name
        for wf_name in (name, new):
            ok(sluice(server, "watch", wf_name))
        async with http.put(f"{wf_url}/retry") as r:  # it succeeded now
            assert r.status == 409 and "only a Failed or Error" in (await r.json())["message"]
        async with http.delete(f"{url}/{uid}") as r:
            assert r.status == 200
        async with http.get(f"{url}/{uid}") as r:
            assert r.status == 404
