"""``sluice template``, ``cluster-template``, ``cron`` and ``submit --from`` as a user runs them.

Each CLI test runs twice: in-process (no server answers, state in a temp data dir) and against a
``sluice server`` subprocess, so both backends give the same answers.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.integration.test_cli import EXAMPLES, sluice
from tests.integration.test_cli import env as local_env  # noqa: F401 (a fixture)
from tests.integration.test_server import server as served_env  # noqa: F401 (a fixture)

TEMPLATES = EXAMPLES / "workflow-template"
WT = "workflow-template-print-message"

CLUSTER = """
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata: {name: cluster-hello}
spec:
  templates:
  - name: hello
    container: {image: busybox, command: [echo, hello from the cluster]}
"""

CRON = """
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: hello-cron}
spec:
  schedules: ["*/5 * * * *"]
  concurrencyPolicy: Forbid
  workflowMetadata: {labels: {team: data}}
  workflowSpec:
    entrypoint: main
    arguments: {parameters: [{name: msg, value: hi}]}
    templates:
    - name: main
      inputs: {parameters: [{name: msg}]}
      container: {image: busybox, command: [echo, "{{inputs.parameters.msg}}"]}
"""


@pytest.fixture(params=["local", "served"])
def cli_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment of a CLI that runs in-process, or one that talks to a server."""
    return dict(request.getfixturevalue(f"{request.param}_env"))


def ok(env: dict[str, str], *args: str) -> str:
    proc = sluice(env, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def failed(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = sluice(env, *args)
    assert proc.returncode != 0, proc.stdout
    return proc


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def columns(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def test_template_create_list_get_delete(cli_env: dict[str, str]) -> None:
    created = ok(cli_env, "template", "create", str(TEMPLATES / "templates.yaml"))
    lines = created.splitlines()
    assert lines[0] == f"Name:                {WT}"
    assert lines[1] == "Namespace:           default"
    assert lines[2].startswith("Created:             ") and lines[2].endswith("(now)")
    again = failed(cli_env, "template", "create", str(TEMPLATES / "templates.yaml"))
    assert f'workflowtemplates.argoproj.io "{WT}" already exists' in again.stderr
    assert [line.strip() for line in ok(cli_env, "template", "list").splitlines()] == ["NAME", WT]
    assert ok(cli_env, "template", "list", "-o", "name") == f"{WT}\n"
    got = json.loads(ok(cli_env, "template", "get", WT, "-o", "json"))
    assert got["kind"] == "WorkflowTemplate" and got["metadata"]["namespace"] == "default"
    assert [t["name"] for t in got["spec"]["templates"]] == ["print-message", "whalesay-template"]
    assert yaml.safe_load(ok(cli_env, "template", "get", WT, "-o", "yaml")) == got
    assert ok(cli_env, "template", "get", WT).startswith(f"Name:                {WT}\n")
    assert ok(cli_env, "template", "list", "-n", "other").strip() == "NAME"
    assert ok(cli_env, "template", "delete", WT) == f"WorkflowTemplate '{WT}' deleted\n"
    missing = failed(cli_env, "template", "get", WT)
    assert f'workflowtemplates.argoproj.io "{WT}" not found' in missing.stderr
    assert ok(cli_env, "template", "list").strip() == "NAME"


def test_cluster_template_create_list_get_delete(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path, "cluster.yaml", CLUSTER)
    created = ok(cli_env, "cluster-template", "create", path).splitlines()
    assert created[0] == "Name:                cluster-hello"
    assert created[1].startswith("Created:             ")  # cluster-scoped: no namespace
    listed = ok(cli_env, "cluster-template", "list", "-n", "anywhere")
    assert [line.strip() for line in listed.splitlines()] == ["NAME", "cluster-hello"]
    got = json.loads(ok(cli_env, "cluster-template", "get", "cluster-hello", "-o", "json"))
    assert "namespace" not in got["metadata"]
    deleted = ok(cli_env, "cluster-template", "delete", "cluster-hello")
    assert deleted == "ClusterWorkflowTemplate 'cluster-hello' deleted\n"
    missing = failed(cli_env, "cluster-template", "delete", "cluster-hello")
    assert 'clusterworkflowtemplates.argoproj.io "cluster-hello" not found' in missing.stderr


def test_cron_create_list_suspend_resume_delete(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path, "cron.yaml", CRON)
    created = ok(cli_env, "cron", "create", path)
    assert created.startswith("Name:                          hello-cron\n")
    assert "Schedules:                     */5 * * * *\n" in created
    assert "Suspended:                     false\n" in created
    assert "ConcurrencyPolicy:             Forbid\n" in created
    assert re.search(r"NextScheduledTime: +\w{3} .*\((\w+ \w+ from )?now\) \(assumes", created)
    header, row = ok(cli_env, "cron", "list").splitlines()
    assert columns(header) == [
        "NAME", "AGE", "LAST RUN", "NEXT RUN", "SCHEDULES", "TIMEZONE", "SUSPENDED",
    ]  # fmt: skip
    name, _age, last, next_run, schedule, suspended = columns(row)  # TIMEZONE is empty
    assert (name, last, schedule, suspended) == ("hello-cron", "N/A", "*/5 * * * *", "false")
    assert re.fullmatch(r"\d+[sm]", next_run), next_run
    assert ok(cli_env, "cron", "suspend", "hello-cron") == "CronWorkflow 'hello-cron' suspended\n"
    assert columns(ok(cli_env, "cron", "list").splitlines()[1])[-1] == "true"
    got = json.loads(ok(cli_env, "cron", "get", "hello-cron", "-o", "json"))
    assert got["spec"]["suspend"] is True
    assert ok(cli_env, "cron", "resume", "hello-cron") == "CronWorkflow 'hello-cron' resumed\n"
    assert "Suspended:                     false\n" in ok(cli_env, "cron", "get", "hello-cron")
    assert ok(cli_env, "cron", "delete", "hello-cron") == ""  # as argo: nothing to say
    assert (
        'cronworkflows.argoproj.io "hello-cron" not found'
        in failed(cli_env, "cron", "get", "hello-cron").stderr
    )
    assert failed(cli_env, "cron", "suspend", "hello-cron").returncode == 1


def test_spec_errors_name_file_and_path(cli_env: dict[str, str], tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "bad.yaml",
        """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: bad}
spec:
  templates:
  - name: main
    container: {image: alpine, comand: [echo]}
  - name: other
    steps: [[{name: a, template: nope}]]
""",
    )
    proc = failed(cli_env, "template", "create", bad)
    where = f"{bad}: document 1 (WorkflowTemplate bad)"
    assert proc.stderr.splitlines() == [
        f"{where}: spec.templates[0].container.comand: unknown field; did you mean 'command'?"
    ]
    wrong_kind = failed(cli_env, "cron", "create", str(TEMPLATES / "templates.yaml"))
    assert (
        f"{TEMPLATES / 'templates.yaml'}: document 1 (WorkflowTemplate {WT}): kind:"
        " expected CronWorkflow, got 'WorkflowTemplate'" in wrong_kind.stderr
    )
    bad_ref = write(tmp_path, "ref.yaml", Path(bad).read_text().replace("comand", "command"))
    lint = failed(cli_env, "template", "create", bad_ref)
    assert lint.stderr.splitlines() == [
        f"{bad_ref}: document 1 (WorkflowTemplate bad): spec.templates[1].steps[0][0].template:"
        " unknown template 'nope'"
    ]
    assert ok(cli_env, "template", "list").strip() == "NAME"


def _submitted(env: dict[str, str], *args: str) -> dict[str, Any]:
    proc = sluice(env, "submit", *args, "--wait", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    wf: dict[str, Any] = json.loads(proc.stdout)
    return wf


def test_submit_from_stored_resources(cli_env: dict[str, str], tmp_path: Path) -> None:
    ok(cli_env, "template", "create", str(TEMPLATES / "templates.yaml"))
    wf = _submitted(cli_env, "--from", f"workflowtemplate/{WT}", "-p", "message=from the CLI")
    assert wf["status"]["phase"] == "Succeeded"
    assert wf["metadata"]["name"].startswith(f"{WT}-")
    assert wf["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] == WT
    assert wf["spec"]["workflowTemplateRef"] == {"name": WT}
    assert "from the CLI" in ok(cli_env, "logs", wf["metadata"]["name"])

    ok(cli_env, "cluster-template", "create", write(tmp_path, "c.yaml", CLUSTER))
    cwf = _submitted(cli_env, "--from", "cwftmpl/cluster-hello", "--entrypoint", "hello")
    assert cwf["status"]["phase"] == "Succeeded"
    assert cwf["spec"]["workflowTemplateRef"] == {"name": "cluster-hello", "clusterScope": True}

    ok(cli_env, "cron", "create", write(tmp_path, "cron.yaml", CRON))
    run = _submitted(cli_env, "--from", "cronwf/hello-cron", "-p", "msg=now")
    assert run["status"]["phase"] == "Succeeded"
    assert run["metadata"]["name"].startswith("hello-cron-")
    labels = run["metadata"]["labels"]
    assert labels["workflows.argoproj.io/cron-workflow"] == "hello-cron"
    assert labels["team"] == "data"
    assert "workflows.argoproj.io/scheduled-time" in run["metadata"]["annotations"]
    assert ok(cli_env, "logs", run["metadata"]["name"]).strip().endswith("now")

    missing = failed(cli_env, "submit", "--from", "wftmpl/nope")
    assert 'workflowtemplates.argoproj.io "nope" not found' in missing.stderr
    malformed = failed(cli_env, "submit", "--from", "nope")
    assert "resource identifier 'nope' is malformed" in malformed.stderr
    unsupported = failed(cli_env, "submit", "--from", "workflow/x")
    assert "Resource kind 'workflow' is not supported for submitting" in unsupported.stderr
    both = failed(cli_env, "submit", str(EXAMPLES / "hello-world.yaml"), "--from", "cwf/x")
    assert "either FILES or --from" in both.stderr


@pytest.mark.parametrize("cli_env", ["local"], indirect=True)
def test_workflow_template_examples_run(cli_env: dict[str, str]) -> None:
    env = cli_env
    ok(env, "template", "create", str(TEMPLATES / "templates.yaml"))
    for example, printed in [
        ("hello-world.yaml", "hello world"),
        ("workflow-template-ref.yaml", "hello from a template ref"),
    ]:
        wf = _submitted(env, str(TEMPLATES / example))
        assert wf["status"]["phase"] == "Succeeded", wf["status"]
        assert ok(env, "logs", wf["metadata"]["name"]).strip().endswith(printed)
    assert ok(env, "lint", str(TEMPLATES)).startswith("✔")


@pytest.mark.parametrize("cli_env", ["served"], indirect=True)
async def test_rest_routes_have_argo_servers_shape(cli_env: dict[str, str]) -> None:
    base = cli_env["SLUICE_SERVER"] + "/api/v1"
    template = yaml.safe_load((TEMPLATES / "templates.yaml").read_text())
    body = {k: v for k, v in template.items() if k not in ("apiVersion", "kind")}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/workflow-templates/ns1", json={"template": body}) as r:
            assert r.status == 200, await r.text()
            created = await r.json()
            assert created["kind"] == "WorkflowTemplate"
            assert created["metadata"]["namespace"] == "ns1"
        async with http.post(f"{base}/workflow-templates/ns1", json={"template": body}) as r:
            assert r.status == 409
        async with http.get(f"{base}/workflow-templates/ns1") as r:
            assert [i["metadata"]["name"] for i in (await r.json())["items"]] == [WT]
        async with http.get(f"{base}/workflow-templates/default") as r:
            assert (await r.json())["items"] == []
        async with http.get(f"{base}/workflow-templates/ns1/{WT}") as r:
            assert (await r.json()) == created
        async with http.post(f"{base}/workflow-templates/ns1", json={"workflow": body}) as r:
            assert r.status == 400
            assert (await r.json())["message"] == 'request body: expected {"template": {...}}'
        async with http.delete(f"{base}/workflow-templates/ns1/{WT}") as r:
            assert r.status == 200 and await r.json() == {}
        async with http.get(f"{base}/workflow-templates/ns1/{WT}") as r:
            assert r.status == 404
            assert (await r.json())["message"] == f'workflowtemplates.argoproj.io "{WT}" not found'

        cluster = yaml.safe_load(CLUSTER)
        async with http.post(f"{base}/cluster-workflow-templates", json={"template": cluster}) as r:
            assert r.status == 200
        async with http.get(f"{base}/cluster-workflow-templates/cluster-hello") as r:
            assert (await r.json())["metadata"]["name"] == "cluster-hello"
        async with http.get(f"{base}/cluster-workflow-templates") as r:
            assert len((await r.json())["items"]) == 1

        cron = yaml.safe_load(CRON)
        cron["spec"]["workflowSpec"]["templates"][0]["container"]["comand"] = ["x"]
        async with http.post(f"{base}/cron-workflows/default", json={"cronWorkflow": cron}) as r:
            assert r.status == 400
            assert "container.comand: unknown field" in (await r.json())["message"]
        cron = yaml.safe_load(CRON)
        async with http.post(f"{base}/cron-workflows/default", json={"cronWorkflow": cron}) as r:
            assert r.status == 200
        async with http.put(f"{base}/cron-workflows/default/hello-cron/suspend") as r:
            assert (await r.json())["spec"]["suspend"] is True
        async with http.put(f"{base}/cron-workflows/default/hello-cron/resume") as r:
            assert (await r.json())["spec"]["suspend"] is False
        async with http.put(f"{base}/cron-workflows/default/nope/resume") as r:
            assert r.status == 404
