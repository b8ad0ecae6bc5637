"""dcgm-exporter text parsing, exporter discovery and the HTTP reading helpers."""

from __future__ import annotations

import pytest

from cockpit.kube import dcgm
from cockpit.kube.dcgm import Exporter, GpuSample, find_exporters, parse_http_response, parse_metrics
from cockpit.kube.model import Row

# As dcgm-exporter 3.x serves it on a whole-GPU node (older exporters spell the label Hostname).
WHOLE_GPUS = """\
# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-aaaa",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",Hostname="gpu-a100-01",DCGM_FI_DRIVER_VERSION="550.127.05",container="train",namespace="team-nlp",pod="bert-finetune-x1"} 87
DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-bbbb",device="nvidia1",modelName="NVIDIA A100-SXM4-80GB",Hostname="gpu-a100-01",DCGM_FI_DRIVER_VERSION="550.127.05",container="",namespace="",pod=""} 0
# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).
# TYPE DCGM_FI_DEV_FB_USED gauge
DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-aaaa",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",Hostname="gpu-a100-01",DCGM_FI_DRIVER_VERSION="550.127.05",container="train",namespace="team-nlp",pod="bert-finetune-x1"} 61234
DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-bbbb",device="nvidia1",modelName="NVIDIA A100-SXM4-80GB",Hostname="gpu-a100-01",DCGM_FI_DRIVER_VERSION="550.127.05",container="",namespace="",pod=""} 0
DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-aaaa",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",Hostname="gpu-a100-01",DCGM_FI_DRIVER_VERSION="550.127.05",container="train",namespace="team-nlp",pod="bert-finetune-x1"} 20686
DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-bbbb",device="nvidia1",modelName="NVIDIA A100-SXM4-80GB",Hostname="gpu-a100-01",DCGM_FI_DRIVER_VERSION="550.127.05",container="",namespace="",pod=""} 81920
DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-aaaa",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",Hostname="gpu-a100-01",container="train",namespace="team-nlp",pod="bert-finetune-x1"} 67
DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-aaaa",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",Hostname="gpu-a100-01",container="train",namespace="team-nlp",pod="bert-finetune-x1"} 351.25
DCGM_FI_DEV_SM_CLOCK{gpu="0",UUID="GPU-aaaa",Hostname="gpu-a100-01"} 1410
"""

# Newer exporters: lower-case hostname; MIG instances carry GPU_I_PROFILE / GPU_I_ID and only
# the profiling ratio for utilisation.
MIG = """\
DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",UUID="GPU-mmmm",modelName="NVIDIA A100-SXM4-80GB",GPU_I_PROFILE="1g.10gb",GPU_I_ID="7",hostname="gpu-a100-mig-01",container="train",namespace="team-nlp",pod="mig-notebook-tests-q2"} 0.420000
DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",UUID="GPU-mmmm",modelName="NVIDIA A100-SXM4-80GB",GPU_I_PROFILE="1g.10gb",GPU_I_ID="8",hostname="gpu-a100-mig-01"} 0
DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="1",UUID="GPU-nnnn",modelName="NVIDIA A100-SXM4-80GB",GPU_I_PROFILE="2g.20gb",GPU_I_ID="7",hostname="gpu-a100-mig-01",container="nb",namespace="team-vision",pod="nb-0"} 0
DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-mmmm",modelName="NVIDIA A100-SXM4-80GB",GPU_I_PROFILE="1g.10gb",GPU_I_ID="7",hostname="gpu-a100-mig-01",container="train",namespace="team-nlp",pod="mig-notebook-tests-q2"} 4000
DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-mmmm",modelName="NVIDIA A100-SXM4-80GB",GPU_I_PROFILE="1g.10gb",GPU_I_ID="7",hostname="gpu-a100-mig-01",container="train",namespace="team-nlp",pod="mig-notebook-tests-q2"} 5856
DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-mmmm",modelName="NVIDIA A100-SXM4-80GB",GPU_I_PROFILE="1g.10gb",GPU_I_ID="8",hostname="gpu-a100-mig-01"} 0
DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-nnnn",modelName="NVIDIA A100-SXM4-80GB",GPU_I_PROFILE="2g.20gb",GPU_I_ID="7",hostname="gpu-a100-mig-01",container="nb",namespace="team-vision",pod="nb-0"} 2048
"""


def by_device(samples: list[GpuSample]) -> dict[str, GpuSample]:
    return {s.device: s for s in samples}


def test_whole_gpus_with_capital_hostname():
    samples = by_device(parse_metrics(WHOLE_GPUS))
    assert set(samples) == {"0", "1"}
    busy, free = samples["0"], samples["1"]
    assert busy.node == "gpu-a100-01" and busy.uuid == "GPU-aaaa" and busy.model == "NVIDIA A100-SXM4-80GB"
    assert busy.pod_key == "team-nlp/bert-finetune-x1"
    assert (busy.util_pct, busy.fb_used_mib, busy.fb_free_mib, busy.temp_c, busy.power_w) == (87, 61234, 20686, 67, 351.25)
    assert busy.fb_total_mib == 81920
    assert busy.mig_profile == busy.mig_id == ""
    assert free.pod_key is None and free.util_pct == 0 and free.temp_c is None  # not reported: None


def test_lower_case_hostname_and_mig_instances():
    samples = parse_metrics(MIG)
    assert {s.node for s in samples} == {"gpu-a100-mig-01"}
    devs = by_device(samples)
    assert set(devs) == {"0/1g.10gb#7", "0/1g.10gb#8", "1/2g.20gb#7"}
    first = devs["0/1g.10gb#7"]
    assert (first.gpu, first.mig_profile, first.mig_id) == ("0", "1g.10gb", "7")
    assert first.pod_key == "team-nlp/mig-notebook-tests-q2"
    assert first.util_pct == pytest.approx(42.0)  # the ratio, as a percentage
    assert (first.fb_used_mib, first.fb_free_mib) == (4000, 5856)
    assert devs["0/1g.10gb#8"].pod_key is None and devs["0/1g.10gb#8"].util_pct == 0
    # Same GPU_I_ID on another GPU is another instance, held by another pod.
    assert devs["1/2g.20gb#7"].pod_key == "team-vision/nb-0" and devs["1/2g.20gb#7"].fb_used_mib == 2048


def test_both_spellings_in_one_text_and_node_override():
    text = WHOLE_GPUS + MIG
    assert {s.node for s in parse_metrics(text)} == {"gpu-a100-01", "gpu-a100-mig-01"}
    # The scraper knows the exporter pod's node: it wins over a label that may be the pod's name.
    renamed = WHOLE_GPUS.replace('Hostname="gpu-a100-01"', 'Hostname="nvidia-dcgm-exporter-7xk2p"')
    assert {s.node for s in parse_metrics(renamed, node="gpu-a100-01")} == {"gpu-a100-01"}


def test_profiling_ratio_wins_over_gpu_util():
    text = ('DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-h",Hostname="h100"} 100\n'
            'DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",UUID="GPU-h",Hostname="h100"} 0.25\n')
    (s,) = parse_metrics(text)
    assert s.util_pct == pytest.approx(25.0)


def test_exported_pod_labels_win():
    # Read through Prometheus: pod/namespace name the exporter itself.
    text = ('DCGM_FI_DEV_GPU_UTIL{gpu="2",UUID="GPU-c",Hostname="n1",namespace="gpu-operator",'
            'pod="nvidia-dcgm-exporter-abc",exported_namespace="team-vision",exported_pod="dev-box-alice",'
            'exported_container="jupyter"} 0\n')
    (s,) = parse_metrics(text)
    assert s.pod_key == "team-vision/dev-box-alice"


def test_time_sliced_gpu_gives_one_sample_per_pod():
    line = 'DCGM_FI_DEV_GPU_UTIL{{gpu="0",UUID="GPU-t",Hostname="t4",namespace="ns",pod="{}"}} 55\n'
    samples = parse_metrics(line.format("a") + line.format("b"))
    assert [(s.device, s.pod_key, s.util_pct) for s in samples] == [("0", "ns/a", 55), ("0", "ns/b", 55)]


def test_escape_sequences_and_escaped_quotes_in_labels_are_neutralised():
    text = ('DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-\\"x\\\\y",modelName="A100\\nX",'
            'Hostname="node\x1b]52;c;ZXZpbA==\x07-1",namespace="team",pod="p\x1b[31mred\x1b[0m"} 12\n')
    (s,) = parse_metrics(text)
    assert s.uuid == 'GPU-"x\\y'
    assert s.model == "A100 X"  # the escaped newline becomes a space in a cell
    assert s.node == "node-1"
    assert s.pod_key == "team/pred"
    for value in (s.node, s.pod_key, s.model, s.uuid):
        assert "\x1b" not in value and "\x07" not in value and "\n" not in value


def test_malformed_lines_nan_and_comments_are_skipped():
    text = ("# just a comment\n"
            'DCGM_FI_DEV_GPU_UTIL{gpu="0",Hostname="n" 12\n'  # unterminated label set
            'DCGM_FI_DEV_GPU_UTIL{gpu="1",Hostname="n"} notanumber\n'
            'DCGM_FI_DEV_GPU_UTIL{gpu="2",Hostname="n"} NaN\n'
            'DCGM_FI_DEV_GPU_TEMP{gpu="2",Hostname="n"} 40 1712345678000\n'
            "\n")
    (s,) = parse_metrics(text)
    assert (s.gpu, s.util_pct, s.temp_c) == ("2", None, 40)


def test_simulator_output_parses_back(tmp_path):
    from cockpit.demo.simulator import gpu_layout, render_metrics

    layout = gpu_layout()
    mig_node = next(n for n, ds in layout.items() if any(d.mig_profile for d in ds))
    devices = layout[mig_node]
    d = devices[0]
    control = {d.key: {"util": 40, "fb_used": 1234, "pod": "team-nlp/mig-a"}}
    samples = by_device(parse_metrics(render_metrics(devices, control)))
    assert len(samples) == len(devices)
    s = samples[f"{d.gpu}/{d.mig_profile}#{d.mig_id}"]
    assert (s.node, s.pod_key, s.util_pct, s.fb_used_mib) == (mig_node, "team-nlp/mig-a", pytest.approx(40), 1234)
    assert s.fb_total_mib == d.memory_mib
    labels = {ds[0].host_label for ds in layout.values()}
    assert labels == {"Hostname", "hostname"}


# --- exporters -------------------------------------------------------------------------------


def exporter_pod(name: str, node: str, phase: str = "Running", app: str = "nvidia-dcgm-exporter") -> dict:
    return {"metadata": {"name": name, "namespace": "gpu-operator", "labels": {"app": app}},
            "spec": {"nodeName": node, "containers": [{"name": "dcgm", "ports": [
                {"name": "gpu-metrics", "containerPort": 9400}]}]},
            "status": {"phase": phase}}


def test_find_exporters_from_raw_pods():
    pods = [exporter_pod("e-1", "n1"), exporter_pod("e-2", "n2", phase="Pending"),
            exporter_pod("other", "n1", app="gpu-feature-discovery"),
            {**exporter_pod("e-3", "n3"), "spec": {"nodeName": "n3", "containers": [
                {"name": "x", "ports": [{"name": "metrics", "containerPort": 9500}]}]}}]
    assert find_exporters(pods) == [Exporter("gpu-operator", "e-1", "n1"), Exporter("gpu-operator", "e-3", "n3", 9500)]


def test_find_exporters_from_rows_and_v1pods():
    from kubernetes import client

    from cockpit.kube.rows import pod_row

    running = {**exporter_pod("e-9", "n9")}
    running["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                         "containerStatuses": [{"name": "dcgm", "ready": True, "restartCount": 0,
                                                "state": {"running": {}}, "image": "x", "imageID": ""}]}
    rows = [pod_row(running, 0)]
    assert isinstance(rows[0], Row) and rows[0].cells[3] == "Running"
    assert find_exporters(rows) == [Exporter("gpu-operator", "e-9", "n9")]
    v1 = client.V1Pod(metadata=client.V1ObjectMeta(name="e-5", namespace="gpu-operator",
                                                  labels={"app.kubernetes.io/name": "dcgm-exporter"}),
                      spec=client.V1PodSpec(node_name="n5", containers=[client.V1Container(name="c")]),
                      status=client.V1PodStatus(phase="Running"))
    assert find_exporters([v1]) == [Exporter("gpu-operator", "e-5", "n5")]


# --- HTTP over a port-forward stream -----------------------------------------------------------


def test_http_response_with_content_length_and_chunked():
    status, headers, body = parse_http_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    assert (status, body, headers["content-length"]) == (200, b"hello", "5")
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    assert parse_http_response(chunked)[2] == b"hello world"
    assert dcgm._response_complete(chunked, chunked.index(b"\r\n\r\n"))
    partial = chunked[:-7]
    assert not dcgm._response_complete(partial, partial.index(b"\r\n\r\n"))
    with pytest.raises(dcgm.MetricsError):
        parse_http_response(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_fetcher_remembers_the_port_forward(monkeypatch):
    calls = []

    def fake(api, ns, pod, port, *, timeout, via, path="/metrics"):
        calls.append(via)
        if via == "proxy":
            raise dcgm.MetricsError("proxy: 403 resolve_deny: denied destination")
        return "DCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} 1\n"

    monkeypatch.setattr(dcgm, "fetch_node_metrics", fake)
    now = [0.0]
    f = dcgm.MetricsFetcher(api=object(), retry_proxy_seconds=60, clock=lambda: now[0])
    exp = Exporter("gpu-operator", "e-1", "n1")
    f.fetch(exp)
    f.fetch(exp)
    assert calls == ["proxy", "portforward", "portforward"]
    now[0] = 61.0  # the proxy is tried again now and then
    f.fetch(exp)
    f.fetch(exp)
    assert calls[3:] == ["proxy", "portforward", "portforward"]


def test_both_ways_failing_says_what_each_said(monkeypatch):
    class Api:
        def call_api(self, *a, **k):
            from kubernetes.client.rest import ApiException

            e = ApiException(status=403, reason="Forbidden")
            e.body = b'{"message":"pods \\"x\\" is forbidden: \\u001b[31m"}'
            raise e

    def refused(*a, **k):
        raise dcgm.MetricsError("port-forward: 403 forbidden")

    monkeypatch.setattr(dcgm, "_open_portforward", refused)
    with pytest.raises(dcgm.MetricsError) as e:
        dcgm.fetch_node_metrics(Api(), "gpu-operator", "x", timeout=1)
    text = str(e.value)
    assert "proxy: 403" in text and "port-forward: 403" in text and "\x1b" not in text
