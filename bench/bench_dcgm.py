"""Parse time of one dcgm-exporter /metrics page: `cockpit.kube.dcgm.parse_metrics` and, beside it,
`prometheus_client`'s text parser alone on the same text (the whole page, and only the lines
of the metrics the cockpit reads).

    .venv/bin/pip install prometheus_client  # for the comparison only; the cockpit does not use it
    .venv/bin/python bench/bench_dcgm.py [DEVICES ...]

The page is what dcgm-exporter 3.x serves with its default counters (HELP and TYPE lines, one
series per GPU and metric, the usual labels, pod labels on half the GPUs). A node of 8 GPUs split
into 7 MIG instances each is 56 devices; 448 devices stands for the largest pages seen. Median
of 20 runs, in milliseconds.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client.parser import text_string_to_metric_families

from cockpit.kube.dcgm import _WANTED, parse_metrics

# dcgm-exporter's default-counters.csv (3.3), name and type.
COUNTERS = [
    ("DCGM_FI_DEV_SM_CLOCK", "gauge"), ("DCGM_FI_DEV_MEM_CLOCK", "gauge"),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge"), ("DCGM_FI_DEV_GPU_TEMP", "gauge"),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge"), ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter"),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter"), ("DCGM_FI_DEV_GPU_UTIL", "gauge"),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge"), ("DCGM_FI_DEV_ENC_UTIL", "gauge"),
    ("DCGM_FI_DEV_DEC_UTIL", "gauge"), ("DCGM_FI_DEV_XID_ERRORS", "gauge"),
    ("DCGM_FI_DEV_FB_FREE", "gauge"), ("DCGM_FI_DEV_FB_USED", "gauge"),
    ("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "counter"), ("DCGM_FI_DEV_VGPU_LICENSE_STATUS", "gauge"),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter"), ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter"),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge"), ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge"),
    ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge"), ("DCGM_FI_PROF_DRAM_ACTIVE", "gauge"),
    ("DCGM_FI_PROF_PCIE_TX_BYTES", "gauge"), ("DCGM_FI_PROF_PCIE_RX_BYTES", "gauge"),
    ("DCGM_FI_DEV_SM_OCCUPANCY", "gauge"), ("DCGM_FI_PROF_SM_ACTIVE", "gauge"),
]


def page(devices: int) -> str:
    lines: list[str] = []
    for metric, kind in COUNTERS:
        lines += [f"# HELP {metric} {metric.lower()} of the device.", f"# TYPE {metric} {kind}"]
        for d in range(devices):
            gpu, mig = divmod(d, 7)
            labels = (f'gpu="{gpu}",UUID="GPU-{gpu:08x}-aaaa-bbbb-cccc-dddddddddddd",pci_bus_id="00000000:{gpu:02X}:00.0",'
                      f'device="nvidia{gpu}",modelName="NVIDIA H100 80GB HBM3",GPU_I_PROFILE="1g.10gb",'
                      f'GPU_I_ID="{mig}",Hostname="gpu-h100-{gpu // 8:03d}",DCGM_FI_DRIVER_VERSION="550.127.05"')
            if d % 2 == 0:
                labels += f',container="train",namespace="team-nlp",pod="bert-finetune-{d}"'
            lines.append(f"{metric}{{{labels}}} {d * 3 % 101}")
    return "\n".join(lines) + "\n"


def median_ms(fn, text: str, runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(text)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def prometheus_only(text: str) -> int:
    return sum(len(f.samples) for f in text_string_to_metric_families(text))


def prometheus_wanted_lines(text: str) -> int:
    """prometheus_client on the lines of the six metrics the cockpit reads, picked by prefix first."""
    wanted = tuple(_WANTED)
    kept = "\n".join(line for line in text.splitlines() if line.startswith(wanted))
    return sum(len(f.samples) for f in text_string_to_metric_families(kept))


def main(sizes: list[int]) -> None:
    print("| devices | page | lines | parse_metrics | prometheus_client, whole page | prometheus_client, wanted lines |")
    print("|---|---|---|---|---|---|")
    for devices in sizes:
        text = page(devices)
        samples = parse_metrics(text)
        assert len(samples) == devices, (len(samples), devices)
        print(f"| {devices} | {len(text) / 1024:.0f} KiB | {text.count(chr(10)):,} | "
              f"{median_ms(parse_metrics, text):.1f} ms | {median_ms(prometheus_only, text):.1f} ms | "
              f"{median_ms(prometheus_wanted_lines, text):.1f} ms |")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [8, 56, 448])
