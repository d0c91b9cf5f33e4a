"""Turning a resolved container or script template into a PodSpec, and its results into outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.executors.base import PodResult, PodSpec, VolumeBinding
from sluice.core.objects import LocalObjects, ObjectError


class PodBuildError(ValueError):
    """The pod cannot be built from its template (missing secret, unknown volume, ...)."""


def main_container(tmpl: dict[str, Any]) -> dict[str, Any]:
    return dict(tmpl.get("container") or tmpl.get("script") or {})


def resolve_env(container: dict[str, Any], objects: LocalObjects) -> dict[str, str]:
    env: dict[str, str] = {}
    for src in container.get("envFrom") or []:
        for kind, key in (("secret", "secretRef"), ("configmap", "configMapRef")):
            ref = src.get(key)
            if ref:
                prefix = src.get("prefix", "")
                try:
                    env.update({prefix + k: v for k, v in objects.all(kind, ref["name"]).items()})
                except ObjectError as exc:
                    if not ref.get("optional"):
                        raise PodBuildError(str(exc)) from exc
    for var in container.get("env") or []:
        name = var["name"]
        if "value" in var:
            env[name] = str(var["value"])
            continue
        source = var.get("valueFrom") or {}
        for kind, key in (("secret", "secretKeyRef"), ("configmap", "configMapKeyRef")):
            ref = source.get(key)
            if ref:
                try:
                    env[name] = objects.get(kind, ref["name"], ref["key"])
                except ObjectError as exc:
                    if not ref.get("optional"):
                        raise PodBuildError(f"env {name}: {exc}") from exc
        if not source:
            env[name] = ""
    return env


def bind_volumes(
    container: dict[str, Any],
    volumes: dict[str, dict[str, Any]],
    *,
    shared_dir: Path,
    pod_dir: Path,
    claims_dir: Path,
    objects: LocalObjects,
) -> list[VolumeBinding]:
    """Host directories for the container's volumeMounts (see README: local volumes)."""
    out: list[VolumeBinding] = []
    for mount in container.get("volumeMounts") or []:
        name = mount["name"]
        vol = volumes.get(name)
        if vol is None:
            raise PodBuildError(f"volumeMounts: volume '{name}' is not defined")
        if "emptyDir" in vol:
            host = pod_dir / "volumes" / name
        elif "persistentVolumeClaim" in vol:
            claim = vol["persistentVolumeClaim"].get("claimName", name)
            host = claims_dir / claim
        elif "hostPath" in vol:
            host = Path(vol["hostPath"]["path"])
        elif "configMap" in vol or "secret" in vol:
            kind = "configmap" if "configMap" in vol else "secret"
            ref = vol.get("configMap") or vol.get("secret") or {}
            obj_name = ref.get("name") or ref.get("secretName") or name
            host = pod_dir / "volumes" / name
            host.mkdir(parents=True, exist_ok=True)
            try:
                for key, value in objects.all(kind, obj_name).items():
                    (host / key).write_text(value)
            except ObjectError as exc:
                if not ref.get("optional"):
                    raise PodBuildError(f"volume {name}: {exc}") from exc
        elif vol.get("claimTemplate"):
            host = shared_dir / name
        else:
            raise PodBuildError(f"volume '{name}': this volume type is not supported locally")
        host.mkdir(parents=True, exist_ok=True)
        if mount.get("subPath"):
            host = host / mount["subPath"]
            host.mkdir(parents=True, exist_ok=True)
        out.append(VolumeBinding(str(host), mount["mountPath"], bool(mount.get("readOnly"))))
    return out


def output_paths(tmpl: dict[str, Any]) -> list[str]:
    outputs = tmpl.get("outputs") or {}
    paths = [
        p["valueFrom"]["path"]
        for p in outputs.get("parameters") or []
        if (p.get("valueFrom") or {}).get("path")
    ]
    return paths


def input_artifacts(
    tmpl: dict[str, Any], artifacts_root: Path, pod_dir: Path
) -> list[VolumeBinding]:
    """Input artifacts as read-only files at their ``path``: ``raw`` data, or ``from`` a key
    of the local artifact store that an earlier step's output artifact was saved under."""
    out = []
    for art in (tmpl.get("inputs") or {}).get("artifacts") or []:
        name, path = art["name"], art.get("path")
        if not path:
            continue
        if "raw" in art:
            host = pod_dir / "artifacts" / name
            host.parent.mkdir(parents=True, exist_ok=True)
            host.write_text(str((art.get("raw") or {}).get("data", "")))
        elif art.get("from"):
            host = artifacts_root / str(art["from"])
            if not host.exists():
                raise PodBuildError(f"input artifact '{name}': {art['from']} not found")
        elif art.get("optional"):
            continue
        else:
            kinds = sorted(k for k in art if k not in ("name", "path", "mode", "optional"))
            raise PodBuildError(
                f"input artifact '{name}': source {kinds or ['none']} is not supported locally"
                " (use raw or from)"
            )
        out.append(VolumeBinding(str(host), path, read_only=True))
    return out


def output_artifacts(tmpl: dict[str, Any]) -> dict[str, str]:
    return {
        a["name"]: a["path"]
        for a in (tmpl.get("outputs") or {}).get("artifacts") or []
        if a.get("path")
    }


def collect_outputs(
    tmpl: dict[str, Any], result: PodResult, artifact_key: str = ""
) -> tuple[dict[str, Any], str | None]:
    """Argo's outputs for a finished pod, and an error message if one could not be read."""
    outputs: dict[str, Any] = {}
    if result.exit_code is not None:
        outputs["exitCode"] = str(result.exit_code)
    if result.stdout:
        outputs["result"] = result.stdout.strip()
    params = []
    error = None
    for p in (tmpl.get("outputs") or {}).get("parameters") or []:
        vf = p.get("valueFrom") or {}
        value: str | None = p.get("value")
        if vf.get("path"):
            value = result.files.get(vf["path"])
            if value is None:
                if "default" in vf:
                    value = str(vf["default"])
                elif error is None:
                    error = (
                        f"failed to get output parameter '{p['name']}': open {vf['path']}:"
                        " no such file or directory"
                    )
                    continue
                else:
                    continue
            else:
                value = value.rstrip("\n") if value.endswith("\n") else value
        if value is None:
            continue
        param = {"name": p["name"], "value": value}
        if p.get("globalName"):
            param["globalName"] = p["globalName"]
        if vf:
            param["valueFrom"] = vf
        params.append(param)
    if params:
        outputs["parameters"] = params
    arts = []
    for a in (tmpl.get("outputs") or {}).get("artifacts") or []:
        if a["name"] not in result.artifacts:
            continue
        if not result.artifacts[a["name"]]:
            if not a.get("optional") and error is None and result.exit_code == 0:
                error = (
                    f"failed to save output artifact '{a['name']}': {a.get('path')}: no such file"
                )
            continue
        art = {"name": a["name"], "path": a.get("path"), "key": f"{artifact_key}/{a['name']}"}
        if a.get("globalName"):
            art["globalName"] = a["globalName"]
        arts.append(art)
    if arts:
        outputs["artifacts"] = arts
    return outputs, error


def make_pod(
    tmpl: dict[str, Any],
    *,
    name: str,
    workflow_uid: str,
    namespace: str,
    images: dict[str, Any],
    env: dict[str, str],
    volumes: list[VolumeBinding],
    log_path: str,
    artifact_dir: str = "",
    container: dict[str, Any] | None = None,
) -> PodSpec:
    """The PodSpec of one of the pod's containers: the main one unless ``container`` is given
    (an init container, a sidecar or a member of a container set)."""
    is_main = container is None
    if container is None:
        container = main_container(tmpl)
    command = [str(c) for c in container.get("command") or []]
    if not command:
        image_cfg = images.get(container.get("image", "")) or {}
        command = [str(c) for c in image_cfg.get("command") or []]
        if not container.get("args"):
            command += [str(a) for a in image_cfg.get("args") or []]
    if not command and not container.get("args"):
        raise PodBuildError(
            f"container has no command, and the config's images map has none for image"
            f" '{container.get('image', '')}'"
        )
    command += [str(a) for a in container.get("args") or []]
    requests = {
        k: str(v) for k, v in ((container.get("resources") or {}).get("requests") or {}).items()
    }
    return PodSpec(
        name=name,
        workflow_uid=workflow_uid,
        namespace=namespace,
        command=command,
        env=env,
        working_dir=container.get("workingDir"),
        volumes=volumes,
        script=tmpl["script"].get("source", "") if is_main and tmpl.get("script") else None,
        output_paths=output_paths(tmpl) if is_main else [],
        container=container.get("name", "main") if not is_main else "main",
        requests=requests,
        log_path=log_path,
        output_artifacts=output_artifacts(tmpl) if is_main else {},
        artifact_dir=artifact_dir,
    )
