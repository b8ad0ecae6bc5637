"""A launch that asks for a GPU product no node has is refused before the (otherwise passing)
server dry run; one whose every node is cordoned or tainted against the pod says it will wait."""

from __future__ import annotations

import pytest

from cockpit.launch.apply import dry_run, plan
from cockpit.launch.errors import LaunchError
from cockpit.launch.library import PresetLibrary

A100 = "NVIDIA-A100-SXM4-80GB"
H100 = "NVIDIA-H100-80GB-HBM3"


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    return PresetLibrary(tmp_path_factory.mktemp("user-presets")).get("pytorch-train")


def test_a_product_no_node_has_is_refused_naming_the_ones_that_exist(kube_admin, preset, unique_name):
    # What the form sent before the fix: the Select's empty value as a product.
    with pytest.raises(LaunchError) as e:
        plan(preset, {"name": unique_name, "gpu_product": "Select.NULL"}, "team-vision", kube_admin)
    text = str(e.value)
    assert "no node has GPU product 'Select.NULL'" in text and A100 in text and H100 in text


def test_a_product_nodes_have_plans_and_dry_runs(kube_admin, preset, unique_name):
    p = plan(preset, {"name": unique_name, "gpu_product": A100}, "team-vision", kube_admin)
    assert not any("cordoned" in n for n in p.notes)
    dry_run(p)


def test_every_node_tainted_against_the_pod_is_said(kube_admin, preset, unique_name):
    p = plan(preset, {"name": unique_name, "gpu_product": H100}, "team-vision", kube_admin)
    assert any(f"every node with {H100} is cordoned, NotReady or tainted" in n for n in p.notes)
    tolerated = plan(preset, {"name": unique_name, "gpu_product": H100,
                              "gpu_toleration": "dedicated=llm:NoSchedule"}, "team-vision", kube_admin)
    assert not any("tainted" in n for n in tolerated.notes)
