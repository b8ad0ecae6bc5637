"""The real Kueue controller manager in the demo cluster.

The manager runs on the host like the Argo controller, against the demo's API server. Its
webhooks are served on loopback with a certificate the demo signs with the cluster CA, and
registered by URL (there is no Service to route through): Kueue's own webhook configurations
and the conversion webhooks of its CRDs, each with that CA as caBundle. Kueue's internal
certificate management is off: it makes certificates for an in-cluster Service name, which a
loopback URL would not match.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from cockpit.kube.portforward import free_port, port_is_free

if TYPE_CHECKING:
    from cockpit.demo.cluster import DemoCluster

NAMESPACE = "kueue-system"
CONFIG_API = "config.kueue.x-k8s.io/v1beta2"
# The integrations the demo enables; the webhooks of the others are not registered, so pods,
# Deployments and the like are created without a round trip through Kueue.
FRAMEWORKS = ["batch/job"]
WEBHOOK_GROUPS = {("kueue.x-k8s.io", r) for r in ("clusterqueues", "cohorts", "resourceflavors", "workloads",
                                                     "localqueues")} | {("batch", "jobs")}
# Kueue's kustomization patches these CRDs to convert between v1beta1 and v1beta2 by webhook.
CONVERTED = {"localqueues", "clusterqueues", "cohorts", "workloads", "multikueueclusters"}
# With internal certificate management off, the v0.17 manager reads its metrics server's
# certificate from this fixed path (as mounted by cert-manager in a real install) and exits
# when it is missing, even with metrics off. The demo puts a self-signed one there.
METRICS_CERTS = Path("/etc/kueue/metrics/certs")


class KueueManager:
    """Certificates, configuration and process of one demo cluster's Kueue manager."""

    def __init__(self, cluster: DemoCluster):
        self.cluster = cluster

    # -- paths -------------------------------------------------------------------------------
    @property
    def dir(self) -> Path:
        return self.cluster.workdir / "kueue"

    @property
    def cert_dir(self) -> Path:
        # Beside the cluster's CA, so a new cluster (a new CA) gets a new certificate.
        return self.cluster.cluster_dir / "pki" / "kueue-webhook"

    @property
    def config_file(self) -> Path:
        return self.dir / "config.yaml"

    @property
    def pidfile(self) -> Path:
        return self.cluster.workdir / "kueue-manager.pid"

    @property
    def log(self) -> Path:
        return self.cluster.workdir / "kueue-manager.log"

    def pid(self) -> int | None:
        return self.cluster._live_pid(self.pidfile, b"kueue-manager")

    # -- ports -------------------------------------------------------------------------------
    def ports(self) -> dict[str, int]:
        """Loopback ports of the webhook server and the health probes, kept in the state file so
        the registered URLs stay right across restarts of the manager."""
        state = self.cluster._state()
        ports = state.get("kueue") or {}
        stale = not all(ports.get(k) for k in ("webhook", "health")) or (
            not self.pid() and not all(port_is_free(ports[k]) for k in ("webhook", "health")))
        if stale:
            ports = {"webhook": free_port(), "health": free_port()}
            state["kueue"] = ports
            self.cluster.state_file.write_text(json.dumps(state))
        return ports

    # -- certificates ------------------------------------------------------------------------
    def ca_bundle(self) -> str:
        return base64.b64encode((self.cluster.cluster_dir / "pki" / "ca.crt").read_bytes()).decode()

    def ensure_certs(self) -> None:
        from cockpit.demo.cluster import DemoError

        crt, key = self.cert_dir / "tls.crt", self.cert_dir / "tls.key"
        if not crt.exists():
            pki = self.cluster.cluster_dir / "pki"
            self.cert_dir.mkdir(parents=True, exist_ok=True)
            ext = self.cert_dir / "san.ext"
            ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                           "keyUsage=critical,digitalSignature,keyEncipherment\n")
            csr = self.cert_dir / "tls.csr"
            _openssl("genrsa", "-out", str(key), "2048")
            _openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", "/CN=kueue-webhook")
            _openssl("x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
                     "-CAcreateserial", "-out", str(crt), "-days", "3650", "-extfile", str(ext))
        if not (METRICS_CERTS / "tls.crt").exists() or not (METRICS_CERTS / "tls.key").exists():
            try:
                METRICS_CERTS.mkdir(parents=True, exist_ok=True)
                _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                         "-keyout", str(METRICS_CERTS / "tls.key"), "-out", str(METRICS_CERTS / "tls.crt"),
                         "-subj", "/CN=kueue-metrics", "-addext", "subjectAltName=IP:127.0.0.1")
            except (OSError, subprocess.CalledProcessError) as e:
                raise DemoError(
                    f"Kueue's manager needs a certificate in {METRICS_CERTS} (it reads it there whenever its "
                    f"own certificate management is off) and the demo could not write one: {e}. Create the "
                    f"folder writable for you (sudo mkdir -p {METRICS_CERTS} && sudo chown $USER "
                    f"{METRICS_CERTS}) and run `cockpit demo up` again."
                ) from e

    # -- what is registered in the cluster ---------------------------------------------------
    def crds(self) -> list[dict]:
        """Kueue's CRDs, those with two served versions converting through the manager."""
        out = []
        for f in sorted(self.cluster.bins.crd_dir("kueue").glob("*.yaml")):
            for doc in yaml.safe_load_all(f.read_text()):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                if doc["spec"]["names"]["plural"] in CONVERTED:
                    doc["spec"]["conversion"] = self.conversion()
                out.append(doc)
        return out

    def conversion(self) -> dict:
        return {"strategy": "Webhook", "webhook": {
            "clientConfig": {"url": self._url("/convert"), "caBundle": self.ca_bundle()},
            "conversionReviewVersions": ["v1"]}}

    def webhook_configurations(self) -> list[dict]:
        out = []
        for f in sorted(self.cluster.bins.crd_dir("kueue-webhooks").glob("*.yaml")):
            for doc in yaml.safe_load_all(f.read_text()):
                if not doc or doc.get("kind") not in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
                    continue
                doc = copy.deepcopy(doc)
                doc["metadata"] = {"name": "kueue-" + doc["metadata"]["name"]}
                hooks = []
                for hook in doc.get("webhooks") or []:
                    rules = hook.get("rules") or []
                    if not any((g, r) in WEBHOOK_GROUPS for rule in rules
                               for g in rule.get("apiGroups") or [] for r in rule.get("resources") or []):
                        continue
                    path = hook["clientConfig"]["service"]["path"]
                    hook["clientConfig"] = {"url": self._url(path), "caBundle": self.ca_bundle()}
                    hooks.append(hook)
                doc["webhooks"] = hooks
                out.append(doc)
        return out

    @staticmethod
    def viewer_role() -> dict:
        """Queues, quotas and workloads readable by whoever has `view`, as the demo does for
        Argo: researchers see why their jobs wait. Kueue's own viewer roles aggregate to its
        batch-user and batch-admin roles instead, which the demo's viewer is not bound to."""
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "kueue-aggregate-to-view",
                             "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                "rules": [{"apiGroups": ["kueue.x-k8s.io"],
                           "resources": ["clusterqueues", "clusterqueues/status", "localqueues",
                                         "localqueues/status", "workloads", "workloads/status", "resourceflavors",
                                         "cohorts", "workloadpriorityclasses", "admissionchecks", "topologies"],
                           "verbs": ["get", "list", "watch"]}]}

    def _url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.ports()['webhook']}{path}"

    def configuration(self) -> dict:
        ports = self.ports()
        return {
            "apiVersion": CONFIG_API, "kind": "Configuration",
            "namespace": NAMESPACE,
            "manageJobsWithoutQueueName": False,
            "integrations": {"frameworks": FRAMEWORKS},
            "internalCertManagement": {"enable": False},
            "webhook": {"host": "127.0.0.1", "port": ports["webhook"], "certDir": str(self.cert_dir)},
            "health": {"healthProbeBindAddress": f"127.0.0.1:{ports['health']}"},
            # Fixed ports would clash between two demo clusters; nothing here reads metrics.
            "metrics": {"bindAddress": "0"},
            "leaderElection": {"leaderElect": False},
            # Off: the visibility API (queue positions) is reached through an APIService, and with
            # certificate management off v0.17 reads its serving certificate from /visibility.
            "featureGates": {"VisibilityOnDemand": False},
        }

    # -- the process -------------------------------------------------------------------------
    def ensure_running(self, timeout: float = 90) -> None:
        """Start the manager unless it runs, and wait until its webhook server answers."""
        from cockpit.demo.cluster import DemoError

        if self.pid():
            self._wait_ready(timeout)
            return
        self.ensure_certs()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(yaml.safe_dump(self.configuration(), sort_keys=False))
        log = open(self.log, "ab")
        proc = subprocess.Popen(
            [str(self.cluster.bins.path("kueue-manager")), "--config", str(self.config_file)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig)},
        )
        self.pidfile.write_text(str(proc.pid))
        try:
            self._wait_ready(timeout, proc)
        except DemoError:
            self.cluster._stop(self.pid(), self.pidfile)
            raise

    def _wait_ready(self, timeout: float, proc: subprocess.Popen | None = None) -> None:
        from cockpit.demo.cluster import DemoError

        url = f"http://127.0.0.1:{self.ports()['health']}/readyz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise DemoError(f"Kueue's manager exited (status {proc.returncode}) while starting: "
                                f"{self._log_tail()} (full log: {self.log})")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise DemoError(f"Kueue's manager was not ready within {timeout:.0f}s: {self._log_tail()} "
                        f"(full log: {self.log})")

    def _log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return "no log"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, stdin=subprocess.DEVNULL)

