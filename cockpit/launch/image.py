"""Run images from local code, the way the experiment runner builds them:
base image + `pip install -r requirements.txt` + the code, built through the Docker API with the
layer cache, tagged with a UTC timestamp and pushed - unless the registry already holds this
exact image, in which case nothing is pushed and the earlier digest is used.

    img = build_image(docker.from_env(), "./exp", "python:3.11-slim", "requirements.txt",
                      "registry.example:5000", "team-vision/exp", on_output=print)
    img.reference   # registry.example:5000/team-vision/exp@sha256:... (what a pod should run)

Blocking; run it in a worker thread. Errors are `ImageError` with the engine's error text.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import io
import os
import re
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cockpit.launch.errors import ImageError
from cockpit.launch.params import IMAGE
from cockpit.launch.preset import utc_stamp

__all__ = ["BuiltImage", "ImageError", "build_image", "dockerfile_for", "normalize_registry"]

WORKDIR = "/workspace"
REQUIREMENTS_IN_IMAGE = "/tmp/cockpit/requirements.txt"
_NO_PIP = "cockpit: the base image has no pip"
_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache",
              ".ruff_cache", "node_modules", ".ipynb_checkpoints", ".tox", ".hypothesis"}
_SKIP_FILES = ("*.pyc", "*.pyo", ".DS_Store")


@dataclass(frozen=True)
class BuiltImage:
    reference: str  # repository@digest: what to run (immutable)
    tagged: str  # repository:timestamp (in the registry when pushed)
    image_id: str
    digest: str
    pushed: bool  # False when the registry already had this exact image


def normalize_registry(registry: str) -> str:
    """"https://gcr.io/my-project/" -> "gcr.io/my-project"."""
    text = registry.strip()
    text = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", text)
    return text.rstrip("/")


def dockerfile_for(base_image: str, with_requirements: bool) -> str:
    lines = [f"FROM {base_image}", f"WORKDIR {WORKDIR}"]
    if with_requirements:
        lines += [
            f"COPY requirements.txt {REQUIREMENTS_IN_IMAGE}",
            # A clear word when the base cannot install requirements, instead of "exit code 127".
            ("RUN if command -v pip >/dev/null 2>&1; then PIP=pip; "
             "elif command -v pip3 >/dev/null 2>&1; then PIP=pip3; "
             "elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; "
             "then PIP='python3 -m pip'; "
             f"else echo '{_NO_PIP}' >&2; exit 3; fi; "
             f"$PIP install --no-cache-dir -r {REQUIREMENTS_IN_IMAGE}"),
        ]
    lines.append(f"COPY code/ {WORKDIR}/")
    return "\n".join(lines) + "\n"


def _ignore_patterns(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    patterns = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and not line.startswith("!"):
            patterns.append(line.strip("/"))
    return patterns


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(p, pat) for pat in patterns for p in prefixes)


def _add(tar: tarfile.TarFile, source: Path, arcname: str) -> None:
    """Add with fixed owner and time so an unchanged tree hits the build cache."""
    info = tar.gettarinfo(str(source), arcname)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if info.isfile():
        with open(source, "rb") as f:
            tar.addfile(info, f)
    elif info.isdir() or info.issym():
        tar.addfile(info)


def build_context(context_dir: Path, requirements: Path | None, dockerfile: str, out: IO[bytes]) -> int:
    """Write the build context tar to `out`; returns the number of code files."""
    patterns = _ignore_patterns(context_dir)
    count = 0
    with tarfile.open(fileobj=out, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        if requirements is not None:
            _add(tar, requirements, "requirements.txt")
        dir_info = tarfile.TarInfo("code")
        dir_info.type = tarfile.DIRTYPE
        dir_info.mode = 0o755
        tar.addfile(dir_info)
        for root, dirs, files in os.walk(context_dir):
            rel_root = os.path.relpath(root, context_dir)
            rel_root = "" if rel_root == "." else rel_root.replace(os.sep, "/")
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS
                             and not _ignored(f"{rel_root}/{d}".lstrip("/"), patterns))
            for d in dirs:
                _add(tar, Path(root) / d, f"code/{rel_root}/{d}".replace("//", "/"))
            for name in sorted(files):
                rel = f"{rel_root}/{name}".lstrip("/")
                if any(fnmatch.fnmatch(name, p) for p in _SKIP_FILES) or _ignored(rel, patterns):
                    continue
                path = Path(root) / name
                if not (path.is_file() or path.is_symlink()):
                    continue
                _add(tar, path, f"code/{rel}")
                count += 1
    return count


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _emit(on_output: Callable[[str], Any] | None, text: str, tail: list[str]) -> None:
    for line in _ANSI.sub("", text).splitlines():
        line = line.rstrip()
        if not line:
            continue
        tail.append(line)
        del tail[:-40]
        if on_output is not None:
            on_output(line)


def _engine_error(e: Exception) -> str:
    explanation = getattr(e, "explanation", None)
    if explanation:
        return explanation.decode() if isinstance(explanation, bytes) else str(explanation)
    return str(e) or type(e).__name__


def build_image(docker_client: Any, context_dir: str | Path, base_image: str, requirements_file: str | Path | None,
                registry: str, repository: str, on_output: Callable[[str], Any] | None = None,
                on_progress: Callable[[str, int, int], Any] | None = None, *, tag: str | None = None,
                now: dt.datetime | None = None, push: bool = True) -> BuiltImage:
    """Build `context_dir` on `base_image` (plus requirements), tag it
    `registry/repository:YYYYMMDD-HHMMSS` and push it when the registry lacks this image.
    `on_output(line)` gets build and push messages, `on_progress(layer, current, total)` upload
    progress. `docker_client` is a docker.DockerClient or docker.APIClient."""
    import docker.errors

    api = getattr(docker_client, "api", docker_client)
    context = Path(context_dir)
    if not context.is_dir():
        raise ImageError(f"code folder {context} does not exist or is not a folder")
    requirements = Path(requirements_file) if requirements_file else None
    if requirements is not None and not requirements.is_file():
        raise ImageError(f"requirements file {requirements} does not exist")
    if not base_image or not IMAGE.fullmatch(base_image.strip()):
        raise ImageError(f"base image {base_image!r} is not an image reference")
    registry = normalize_registry(registry)
    repository = repository.strip().strip("/").lower()
    name = f"{registry}/{repository}" if registry else repository
    stamp = tag or utc_stamp(now)
    tagged = f"{name}:{stamp}"
    if not registry:
        raise ImageError("a registry is needed to run the image on a cluster (--registry host[:port])")
    if not repository or not IMAGE.fullmatch(tagged):
        raise ImageError(f"{tagged!r} is not a valid image name (lowercase letters, digits, '.', '_', '-', '/')")

    dockerfile = dockerfile_for(base_image.strip(), requirements is not None)
    tail: list[str] = []
    with tempfile.TemporaryFile() as ctx:
        try:
            files = build_context(context, requirements, dockerfile, ctx)
        except OSError as e:
            raise ImageError(f"cannot read {context}: {e}") from None
        ctx.seek(0)
        _emit(on_output, f"building {tagged} from {base_image} with {files} file(s) of {context}", tail)
        image_id = None
        error = None
        try:
            for event in api.build(fileobj=ctx, custom_context=True, tag=tagged, rm=True, forcerm=True,
                                   decode=True, pull=False, timeout=3600):
                if "stream" in event:
                    _emit(on_output, event["stream"], tail)
                elif "status" in event:
                    _emit(on_output, " ".join(str(event[k]) for k in ("id", "status", "progress") if event.get(k)),
                          tail)
                if "error" in event:
                    error = (event.get("errorDetail") or {}).get("message") or event["error"]
                aux = event.get("aux")
                if isinstance(aux, dict) and aux.get("ID"):
                    image_id = aux["ID"]
        except docker.errors.DockerException as e:
            raise ImageError(f"building {tagged} failed: {_engine_error(e)}") from None
        except OSError as e:
            raise ImageError(f"cannot reach the Docker engine: {e}") from None
    if error is not None:
        raise ImageError(_build_failure(error, tail, base_image, requirements))
    try:
        info = api.inspect_image(tagged)
    except docker.errors.DockerException as e:
        raise ImageError(f"the build of {tagged} left no image: {_engine_error(e)}") from None
    image_id = info.get("Id") or image_id or ""
    _emit(on_output, f"built {tagged} ({image_id[:19]})", tail)

    # Push only when changed: an image pushed earlier carries its digest in RepoDigests.
    for repo_digest in info.get("RepoDigests") or []:
        repo, _, digest = repo_digest.partition("@")
        if repo != name or not digest:
            continue
        try:
            api.inspect_distribution(f"{name}@{digest}")
        except docker.errors.DockerException:
            continue
        _emit(on_output, f"{name}@{digest} is already in the registry; not pushing", tail)
        return BuiltImage(f"{name}@{digest}", tagged, image_id, digest, pushed=False)
    if not push:
        return BuiltImage(tagged, tagged, image_id, "", pushed=False)
    digest = _push(api, name, stamp, on_output, on_progress, tail)
    return BuiltImage(f"{name}@{digest}", tagged, image_id, digest, pushed=True)


def _build_failure(error: str, tail: list[str], base: str, requirements: Path | None) -> str:
    output = "\n".join(tail[-15:])
    if any(line.strip() == _NO_PIP for line in tail):
        return (f"the base image {base} has no pip, so {requirements} cannot be installed: use a base image "
                f"with Python and pip (such as python:3.11-slim) or leave out the requirements file.\n{output}")
    if "/bin/sh" in error and ("no such file" in error or "not found" in error):
        return f"the base image {base} has no /bin/sh to run the install step: {error}"
    if "pull access denied" in error or "manifest unknown" in error or ("not found" in error and base in error):
        return f"the base image {base} is neither local nor pullable: {error}"
    return f"building the image failed: {error}\n{output}"


def _push(api: Any, name: str, tag: str, on_output: Callable[[str], Any] | None,
          on_progress: Callable[[str, int, int], Any] | None, tail: list[str]) -> str:
    import docker.errors

    digest = None
    error = None
    try:
        for event in api.push(name, tag=tag, stream=True, decode=True):
            if "error" in event:
                error = (event.get("errorDetail") or {}).get("message") or event["error"]
                continue
            status = event.get("status", "")
            layer = event.get("id", "")
            detail = event.get("progressDetail") or {}
            if detail.get("total") and on_progress is not None:
                on_progress(layer, int(detail.get("current") or 0), int(detail["total"]))
            elif status in ("Pushed", "Layer already exists") and on_progress is not None and layer:
                on_progress(layer, 1, 1)
            if status and status not in ("Pushing", "Preparing", "Waiting"):
                _emit(on_output, f"{layer}: {status}" if layer else status, tail)
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = aux["Digest"]
    except docker.errors.DockerException as e:
        raise ImageError(f"pushing {name}:{tag} failed: {_engine_error(e)}") from None
    except OSError as e:
        raise ImageError(f"pushing {name}:{tag} failed: cannot reach the Docker engine: {e}") from None
    if error is not None:
        raise ImageError(f"pushing {name}:{tag} failed: {error}")
    if not digest:
        for line in reversed(tail):
            m = re.search(r"digest: (sha256:[0-9a-f]{64})", line)
            if m:
                digest = m.group(1)
                break
    if not digest:
        raise ImageError(f"pushing {name}:{tag} reported no digest")
    return digest
