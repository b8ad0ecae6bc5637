"""Extra demo users for permission tests: a client certificate signed by the demo CA, bound to
the cluster roles given, in a kubeconfig of its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from kubernetes import client


def make_user(cluster, admin_api, user: str, cluster_roles: list[str], out_dir: Path) -> Path:
    pki = cluster.cluster_dir / "pki"
    key, csr, crt = out_dir / f"{user}.key", out_dir / f"{user}.csr", out_dir / f"{user}.crt"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={user}"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"), "-CAkey",
                    str(pki / "ca.key"), "-CAcreateserial", "-out", str(crt), "-days", "2"],
                   check=True, capture_output=True)
    rbac = client.RbacAuthorizationV1Api(admin_api)
    for role in cluster_roles:
        rbac.create_cluster_role_binding({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{user}-{role}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": user,
        "clusters": [{"name": "demo", "cluster": {"server": cluster.server(),
                                                 "certificate-authority": str(pki / "ca.crt")}}],
        "users": [{"name": user, "user": {"client-certificate": str(crt), "client-key": str(key)}}],
        "contexts": [{"name": user, "context": {"cluster": "demo", "user": user}}],
    }
    path = out_dir / f"{user}.kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return path
