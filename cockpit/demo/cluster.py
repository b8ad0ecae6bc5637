"""`cockpit demo`: a real Kubernetes control plane on loopback with simulated GPU machines.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are real binaries built from
the Go modules; KWOK plays the kubelets (node status, pod lifecycle, logs, exec, port-forward);
the real Argo workflow-controller drives Workflows and the real Kueue manager queues Jobs (see
kueue.py). `kwokctl --runtime binary` makes the
certificates and flags and supervises the control plane; this module adds what the cockpit
needs on top: a kubeconfig with an admin and a viewer context, the audit log, CRDs, the Argo
controller, the Kueue manager and the seeded fleet.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from cockpit import locations
from cockpit.kube.portforward import free_port, port_is_free

CLUSTER_NAME = "cockpit-demo"
ADMIN_CONTEXT = "cockpit-demo"
VIEWER_CONTEXT = "cockpit-demo-viewer"
VIEWER_USER = "cockpit-viewer"
DEFAULT_PORT = 38611

VERSIONS = {
    "K8S_VERSION": "v1.36.3",
    "ETCD_VERSION": "v3.6.16",
    "KWOK_VERSION": "v0.8.0",
    "ARGO_VERSION": "v4.0.2",
    "KATIB_VERSION": "v0.19.0",
    "KUEUE_VERSION": "v0.17.0",
}

# Kinds KWOK reads from the API server, so tests can add logs/exec/port-forward rules live.
KWOK_CRDS = [
    "Logs", "ClusterLogs", "Exec", "ClusterExec", "PortForward", "ClusterPortForward",
    "Attach", "ClusterAttach",
]

AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


class DemoError(Exception):
    """A failure the user can act on; the message says what and how."""


@dataclass(frozen=True)
class Binaries:
    dir: Path

    def path(self, name: str) -> Path:
        version = {
            "kube-apiserver": "K8S_VERSION", "kube-controller-manager": "K8S_VERSION",
            "kube-scheduler": "K8S_VERSION", "kubectl": "K8S_VERSION", "etcd": "ETCD_VERSION",
            "kwok": "KWOK_VERSION", "kwokctl": "KWOK_VERSION", "workflow-controller": "ARGO_VERSION",
            "kueue-manager": "KUEUE_VERSION",
        }[name]
        return self.dir / "bin" / f"{name}-{VERSIONS[version]}"

    def crd_dir(self, project: str) -> Path:
        key = {"argo": "ARGO_VERSION", "katib": "KATIB_VERSION", "kueue": "KUEUE_VERSION",
               "kueue-webhooks": "KUEUE_VERSION"}[project]
        return self.dir / "crds" / f"{project}-{VERSIONS[key]}"

    def missing(self) -> list[str]:
        names = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl",
                 "kwok", "kwokctl", "workflow-controller", "kueue-manager"]
        out = [n for n in names if not os.access(self.path(n), os.X_OK)]
        out += [f"{p} CRDs" for p in ("argo", "katib", "kueue") if not any(self.crd_dir(p).glob("*.yaml"))]
        if not any(self.crd_dir("kueue-webhooks").glob("*.yaml")):
            out.append("kueue webhook configurations")
        return out


def build_binaries(cache: Path | None = None, *, quiet: bool = False) -> Binaries:
    """Build whatever is missing (cached per version); a warm cache returns at once."""
    bins = Binaries(cache or locations.binaries_cache())
    if not bins.missing():
        return bins
    if shutil.which("go") is None:
        raise DemoError(
            "the demo cluster is built from Go modules, but no `go` is on PATH: "
            "install Go >= 1.26 (the README's set-up command does) and run `cockpit demo up` again"
        )
    script = resources.files("cockpit.demo").joinpath("build-binaries.sh")
    env = {**os.environ, **VERSIONS}
    with resources.as_file(script) as path:
        proc = subprocess.run(
            ["bash", str(path), str(bins.dir)], env=env,
            stdout=subprocess.DEVNULL if quiet else None, stderr=None if not quiet else subprocess.PIPE,
            text=True,
        )
    if proc.returncode != 0:
        detail = (proc.stderr or "")[-2000:] if quiet else ""
        raise DemoError(f"building the demo cluster binaries failed (exit {proc.returncode}){detail and ': ' + detail}")
    still = bins.missing()
    if still:
        raise DemoError(f"the build finished but these are still missing: {', '.join(still)}")
    return bins


class DemoCluster:
    """The demo cluster living under one state directory."""

    def __init__(self, workdir: Path | None = None, cache: Path | None = None):
        self.workdir = workdir or locations.demo_dir()
        self.cache = cache or locations.binaries_cache()
        self.bins = Binaries(self.cache)
        from cockpit.demo.kueue import KueueManager

        self.kueue = KueueManager(self)

    # -- paths -------------------------------------------------------------------------------
    @property
    def kwok_workdir(self) -> Path:
        return self.workdir / "kwok"

    @property
    def cluster_dir(self) -> Path:
        return self.kwok_workdir / "clusters" / CLUSTER_NAME

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.cluster_dir / "logs" / "audit.log"

    @property
    def logs_dir(self) -> Path:
        """Container log files that KWOK serves through the API server."""
        return self.workdir / "pod-logs"

    @property
    def controller_pidfile(self) -> Path:
        return self.workdir / "workflow-controller.pid"

    @property
    def controller_log(self) -> Path:
        return self.workdir / "workflow-controller.log"

    @property
    def state_file(self) -> Path:
        return self.workdir / "state.json"

    def _kwokctl(self, *args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "KWOK_WORKDIR": str(self.kwok_workdir)}
        proc = subprocess.run(
            [str(self.bins.path("kwokctl")), "--name", CLUSTER_NAME, *args],
            env=env, capture_output=capture, text=True,
        )
        if check and proc.returncode != 0:
            raise DemoError(f"kwokctl {' '.join(args)} failed: {(proc.stderr or proc.stdout).strip()[-2000:]}")
        return proc

    def _state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    @property
    def port(self) -> int | None:
        return self._state().get("port")

    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.cluster_dir / "kwok.yaml").exists()

    def api_ready(self, timeout: float = 2.0) -> bool:
        if not self.kubeconfig.exists() or not self.port:
            return False
        proc = subprocess.run(
            [str(self.bins.path("kubectl")), "--kubeconfig", str(self.kubeconfig), "--context", ADMIN_CONTEXT,
             "get", "--raw", "/readyz", f"--request-timeout={timeout}s"],
            capture_output=True, text=True,
        )
        return proc.returncode == 0 and proc.stdout.strip() == "ok"

    def up(self, *, port: int | None = None, nodes: int = 0, pods: int = 0, seed: bool = True,
           log=print) -> None:
        started = time.monotonic()
        self.bins = build_binaries(self.cache)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        if self.exists():
            if self.api_ready():
                log(f"demo cluster already running at {self.server()}")
            else:
                log("starting the existing demo cluster")
                self._kwokctl("start", "cluster", "--wait", "2m")
                self._wait_ready()
        else:
            self._create(port or DEFAULT_PORT, log)
        from cockpit.demo import fleet

        seeder = fleet.Seeder(self)
        seeder.install_base()
        self._ensure_simulator()
        # Before anything creates a Job: Kueue's Job webhook refuses them while it is down.
        self.kueue.ensure_running()
        seeder.install_kueue_webhooks()
        seeder.create(self.kueue.viewer_role())
        if seed:
            seeder.seed_all(log=log)
            if nodes or pods:
                seeder.scale(nodes=nodes, pods=pods, log=log)
        self._ensure_controller()
        log(f"demo cluster ready in {time.monotonic() - started:.1f}s; export KUBECONFIG={self.kubeconfig}")

    def _create(self, port: int, log) -> None:
        if not port_is_free(port):
            raise DemoError(
                f"port {port} on 127.0.0.1 is taken by another process; the demo API server needs it. "
                f"Free it or pick another with `cockpit demo up --port N`."
            )
        for p in (self.cluster_dir,):
            if p.exists():
                shutil.rmtree(p)
        policy = self.workdir / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(AUDIT_POLICY))
        config = self.workdir / "kwokctl.yaml"
        docs = [
            {
                "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
                "kind": "KwokctlConfiguration",
                "options": {
                    "runtime": "binary",
                    "kubeApiserverPort": port,
                    "securePort": True,
                    "kubeAuthorization": True,
                    "kubeAuditPolicy": str(policy),
                    "enableCRDs": KWOK_CRDS,
                    "bindAddress": "127.0.0.1",
                    "etcdBinary": str(self.bins.path("etcd")),
                    "kubeApiserverBinary": str(self.bins.path("kube-apiserver")),
                    "kubeControllerManagerBinary": str(self.bins.path("kube-controller-manager")),
                    "kubeSchedulerBinary": str(self.bins.path("kube-scheduler")),
                    "kwokControllerBinary": str(self.bins.path("kwok")),
                    "kubectlBinary": str(self.bins.path("kubectl")),
                    "kubeVersion": VERSIONS["K8S_VERSION"],
                    "etcdVersion": VERSIONS["ETCD_VERSION"].lstrip("v"),
                    "disableQPSLimits": True,
                    "cacheDir": str(self.workdir / "kwok-cache"),
                },
            },
        ]
        for name in ("node.yaml", "pod.yaml", "volume.yaml"):
            text = resources.files("cockpit.demo").joinpath("stages", name).read_text()
            docs.extend(d for d in yaml.safe_load_all(text) if d)
        config.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        log(f"creating the demo control plane on 127.0.0.1:{port}")
        self._kwokctl("create", "cluster", "--config", str(config), "--kubeconfig", "", "--wait", "3m",
                      "--timeout", "5m")
        self.state_file.write_text(json.dumps({"port": port}))
        self._write_kubeconfig()
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api_ready():
                return
            time.sleep(0.5)
        raise DemoError(f"the demo API server did not become ready within {timeout:.0f}s; "
                        f"see the logs in {self.cluster_dir / 'logs'}")

    def _write_kubeconfig(self) -> None:
        pki = self.cluster_dir / "pki"
        viewer_key, viewer_crt = pki / "cockpit-viewer.key", pki / "cockpit-viewer.crt"
        if not viewer_crt.exists():
            # A client certificate signed by the cluster CA: the API server maps CN to the user.
            subprocess.run(["openssl", "genrsa", "-out", str(viewer_key), "2048"], check=True, capture_output=True)
            csr = pki / "cockpit-viewer.csr"
            subprocess.run(["openssl", "req", "-new", "-key", str(viewer_key), "-out", str(csr),
                            "-subj", f"/CN={VIEWER_USER}/O=cockpit-viewers"], check=True, capture_output=True)
            subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"),
                            "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-out", str(viewer_crt),
                            "-days", "3650"], check=True, capture_output=True)
        admin = yaml.safe_load((self.cluster_dir / "kubeconfig.yaml").read_text())
        admin_user = admin["users"][0]["user"]
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CLUSTER_NAME, "cluster": {
                "server": self.server(), "certificate-authority": str(pki / "ca.crt")}}],
            "users": [
                {"name": "cockpit-demo-admin", "user": {
                    "client-certificate": admin_user.get("client-certificate", str(pki / "admin.crt")),
                    "client-key": admin_user.get("client-key", str(pki / "admin.key"))}},
                {"name": VIEWER_USER, "user": {
                    "client-certificate": str(viewer_crt), "client-key": str(viewer_key)}},
            ],
            "contexts": [
                {"name": ADMIN_CONTEXT, "context": {"cluster": CLUSTER_NAME, "user": "cockpit-demo-admin"}},
                {"name": VIEWER_CONTEXT, "context": {"cluster": CLUSTER_NAME, "user": VIEWER_USER}},
            ],
            "current-context": ADMIN_CONTEXT,
        }
        tmp = self.kubeconfig.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
        tmp.chmod(0o600)
        tmp.replace(self.kubeconfig)

    # -- host processes: the Argo controller and the simulator --------------------------------
    @staticmethod
    def _live_pid(pidfile: Path, needle: bytes) -> int | None:
        try:
            pid = int(pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if needle in cmdline else None

    def _controller_pid(self) -> int | None:
        return self._live_pid(self.controller_pidfile, b"workflow-controller")

    def _simulator_pid(self) -> int | None:
        return self._live_pid(self.workdir / "simulator.pid", b"cockpit.demo.simulator")

    def simulator_port(self) -> int:
        """Loopback port of the simulator's HTTP server (Jupyter stand-in, exporter metrics)."""
        state = self._state()
        if "simulator_port" not in state:
            state["simulator_port"] = free_port()
            self.state_file.write_text(json.dumps(state))
        return state["simulator_port"]

    def _ensure_simulator(self) -> None:
        if self._simulator_pid():
            return
        out = open(self.workdir / "simulator.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cockpit.demo.simulator", str(self.workdir), str(self.simulator_port())],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        (self.workdir / "simulator.pid").write_text(str(proc.pid))

    def _ensure_controller(self) -> None:
        if self._controller_pid():
            return
        log = open(self.controller_log, "ab")
        proc = subprocess.Popen(
            [str(self.bins.path("workflow-controller")), "--kubeconfig", str(self.kubeconfig),
             "--namespace", "argo", "--configmap", "workflow-controller-configmap",
             "--executor-image", "quay.io/argoproj/argoexec:" + VERSIONS["ARGO_VERSION"],
             "--workflow-workers", "8", "--pod-cleanup-workers", "2", "--loglevel", "info"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig), "LEADER_ELECTION_DISABLE": "true",
                 # Re-check running workflows every second rather than every ten: steps on simulated
                 # pods take a second or two, and tests wait on them.
                 "DEFAULT_REQUEUE_TIME": "1s"},
        )
        self.controller_pidfile.write_text(str(proc.pid))

    @staticmethod
    def _stop(pid: int | None, pidfile: Path) -> None:
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.1)
            else:
                os.killpg(pid, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)

    def down(self, log=print) -> None:
        self._stop(self.kueue.pid(), self.kueue.pidfile)
        self._stop(self._controller_pid(), self.controller_pidfile)
        self._stop(self._simulator_pid(), self.workdir / "simulator.pid")
        if self.exists() and os.access(self.bins.path("kwokctl"), os.X_OK):
            self._kwokctl("delete", "cluster", "--kubeconfig", "", check=False)
        # kwokctl stops what it started; make sure nothing of ours survives a crash of it.
        self._kill_strays()
        for p in (self.kwok_workdir, self.kubeconfig, self.state_file, self.logs_dir):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        log("demo cluster removed")

    def _kill_strays(self) -> None:
        marker = str(self.kwok_workdir).encode()
        for pid in _pids():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            ours = str(self.workdir).encode() in cmd and (b"workflow-controller" in cmd or b"cockpit.demo.simulator" in cmd
                                                          or b"kueue-manager" in cmd)
            if marker in cmd or ours:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def status(self) -> list[tuple[str, str]]:
        """One (component, state) pair per component, plus the audit log path."""
        rows: list[tuple[str, str]] = []
        if not self.exists():
            return [("cluster", "not created (run `cockpit demo up`)")]
        procs = self._component_pids()
        for comp in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller"):
            pid = procs.get(comp)
            rows.append((comp, f"running (pid {pid})" if pid else "stopped"))
        for comp, pid in (("workflow-controller", self._controller_pid()), ("kueue-manager", self.kueue.pid()),
                          ("simulator", self._simulator_pid())):
            rows.append((comp, f"running (pid {pid})" if pid else "stopped"))
        rows.append(("api-server", f"{self.server()} ({'ready' if self.api_ready() else 'not ready'})"))
        rows.append(("kubeconfig", str(self.kubeconfig)))
        rows.append(("audit-log", str(self.audit_log)))
        return rows

    def _component_pids(self) -> dict[str, int]:
        found: dict[str, int] = {}
        marker = str(self.cluster_dir).encode()
        for pid in _pids():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if not cmd or not any(marker in part for part in cmd):
                continue
            exe = Path(cmd[0].decode(errors="replace")).name
            for comp, needle in (("etcd", "etcd"), ("kube-apiserver", "kube-apiserver"),
                                 ("kube-controller-manager", "kube-controller-manager"),
                                 ("kube-scheduler", "kube-scheduler"), ("kwok-controller", "kwok")):
                if exe == needle or exe.startswith(needle + "-v") or exe == comp:
                    found.setdefault(comp, pid)
        return found


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
