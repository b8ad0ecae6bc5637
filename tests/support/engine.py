"""The test Docker engine and registry: Debian's dockerd on a private socket and Debian's
docker-registry on loopback, both started and stopped by the test session."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class EngineUnavailable(Exception):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise EngineUnavailable(f"{what} did not come up within {timeout:.0f}s")


@dataclass
class Engine:
    root: Path
    socket: Path
    registry: str  # host:port
    procs: list[subprocess.Popen]

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def start_engine(root: Path) -> Engine:
    dockerd = shutil.which("dockerd")
    registry = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not dockerd or not os.access(registry, os.X_OK):
        raise EngineUnavailable("dockerd or docker-registry is not installed (Debian packages docker.io, docker-registry)")
    root.mkdir(parents=True, exist_ok=True)
    sock = root / "docker.sock"
    procs: list[subprocess.Popen] = []
    reg_port = _free_port()
    reg_conf = root / "registry.yml"
    reg_conf.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'registry'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{reg_port}\n"
    )
    procs.append(subprocess.Popen([registry, "serve", str(reg_conf)], stdout=open(root / "registry.log", "wb"),
                                  stderr=subprocess.STDOUT, start_new_session=True))
    # Data under the state dir survives between sessions so the layer cache stays warm.
    data_root = Path(os.environ.get("COCKPIT_TEST_DOCKER_DATA", "/var/lib/gpu-cockpit-test-docker"))
    procs.append(subprocess.Popen(
        [dockerd, "--host", f"unix://{sock}", "--data-root", str(data_root), "--exec-root", str(root / "exec"),
         "--pidfile", str(root / "dockerd.pid"), "--storage-driver", "vfs", "--bridge", "none",
         "--iptables=false", "--ip6tables=false", "--ip-masq=false"],
        stdout=open(root / "dockerd.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True))
    engine = Engine(root, sock, f"127.0.0.1:{reg_port}", procs)

    def registry_up() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", reg_port)) == 0

    def docker_up() -> bool:
        if procs[1].poll() is not None:
            raise EngineUnavailable(f"dockerd exited: {(root / 'dockerd.log').read_text()[-1500:]}")
        return sock.exists() and subprocess.run(
            ["docker", "-H", engine.docker_host, "version"], capture_output=True).returncode == 0

    try:
        _wait(registry_up, 20, "docker-registry")
        _wait(docker_up, 60, "dockerd")
    except Exception:
        engine.stop()
        raise
    return engine


def busybox_base_image(client, tag: str = "cockpit-test/busybox-base:1") -> str:
    """A base image built locally (nothing can be pulled here): scratch plus a static busybox."""
    import io
    import tarfile

    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise EngineUnavailable("/bin/busybox missing (Debian package busybox-static)")
    dockerfile = (
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        'CMD ["/bin/sh"]\n'
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.add(str(busybox), arcname="busybox")
    buf.seek(0)
    client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True)
    return tag
