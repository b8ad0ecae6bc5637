"""Records tests/unit/fixtures/watch/ from a running demo cluster: one streaming list of a
namespace's pods as protobuf and as JSON (taken again until both show every pod at the same
resourceVersion), and the ERROR event of a watch from a resourceVersion the server no longer has.

    .venv/bin/python tests/support/record_watch.py KUBECONFIG [NAMESPACE]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cockpit.kube import rest  # noqa: E402
from cockpit.kube.connection import request  # noqa: E402
from cockpit.kube.proto import PROTOBUF_WATCH  # noqa: E402

OUT = ROOT / "tests" / "unit" / "fixtures" / "watch"
STREAM = [("watch", "true"), ("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan"),
          ("allowWatchBookmarks", "true"), ("timeoutSeconds", "5")]


def stream(api, path: str, accept: str, query, until: bytes) -> bytes:
    resp = request(api, "GET", path, query=query, timeout=(10, 30), accept=accept)
    data = b""
    try:
        for chunk in resp.stream(65536):
            data += chunk
            if until in data:
                break
    finally:
        resp.release_conn()
    return data


def main() -> None:
    kubeconfig, ns = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "team-nlp")
    api = rest.connect([Path(kubeconfig)], "cockpit-demo")
    path = f"/api/v1/namespaces/{ns}/pods"
    for _ in range(20):
        pb = stream(api, path, PROTOBUF_WATCH, STREAM, b"initial-events-end")
        js = stream(api, path, "application/json", STREAM, b"initial-events-end")
        js = js[:js.rindex(b"}\n") + 2] if not js.endswith(b"\n") else js
        versions = sorted(set(re.findall(rb'"resourceVersion":"(\d+)"', js)))
        if all(v in pb for v in versions[:-1]):  # the last is the bookmark's, which may differ
            break
    else:
        sys.exit("the pods kept changing between the two reads")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pods.pb").write_bytes(pb)
    (OUT / "pods.jsonl").write_bytes(js)
    (OUT / "too-old.pb").write_bytes(stream(api, path, PROTOBUF_WATCH,
                                            [("watch", "true"), ("resourceVersion", "1"), ("timeoutSeconds", "2")],
                                            b"Expired"))
    print(f"{len(pb)} bytes of protobuf, {len(js)} of JSON, {ns}")


if __name__ == "__main__":
    main()
