"""The launch form over the recorded demo cluster (no API server): the GPU product choice, the
YAML preview on ctrl+p, and snapshots of its states at 80x24 and 160x50."""

from __future__ import annotations

import pytest
import yaml
from textual.widgets import Input

from cockpit.kube.gpu import free_by_product
from cockpit.launch.library import PresetLibrary
from cockpit.ui.screens.launch import LaunchScreen
from cockpit.ui.screens.text import TextScreen
from tests.support.pilot import until
from tests.ui.recorded_app import recorded_app

A100 = "NVIDIA-A100-SXM4-80GB"


def launch_screen(app, tmp_path, **kw) -> LaunchScreen:
    offer = free_by_product(app.hub.gpu.all_allocations())
    return LaunchScreen(None, namespace="team-vision", gpu_offer=offer, read_only=False, on_created=lambda r: None,
                        library=PresetLibrary(tmp_path / "user-presets"), **kw)


async def open_form(pilot, screen: LaunchScreen, preset: str = "pytorch-train") -> None:
    app = pilot.app
    await app.push_screen(screen)
    options = screen.query_one("#presets")
    await until(pilot, lambda: options.option_count > 0, what="presets listed")
    options.highlighted = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == preset)
    await pilot.press("enter")
    await until(pilot, lambda: screen.preset is not None and screen.query("#f-gpu_product"), what="form")
    await pilot.pause()


def rendered_job(screen: LaunchScreen) -> dict:
    values = screen._validate()
    assert values is not None, screen.errors
    ns, _, _ = screen._values()
    return next(d for d in screen.preset.render(values, ns) if d and d["kind"] == "Job")


async def test_any_gpu_product_puts_no_node_selector_in(tmp_path):
    app = recorded_app("gpu")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = launch_screen(app, tmp_path)
        await open_form(pilot, screen)
        select = screen.query_one("#f-gpu_product")
        assert select.is_blank()  # "any GPU product"
        pod_spec = rendered_job(screen)["spec"]["template"]["spec"]
        # Before: nodeSelector {nvidia.com/gpu.product: Select.NULL}, a pod that never schedules.
        assert "nodeSelector" not in pod_spec
        assert "Select.NULL" not in yaml.safe_dump(rendered_job(screen))
        select.value = A100
        await pilot.pause()
        assert rendered_job(screen)["spec"]["template"]["spec"]["nodeSelector"] == {"nvidia.com/gpu.product": A100}


async def test_product_list_counts_only_schedulable_gpus(tmp_path):
    app = recorded_app("gpu")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = launch_screen(app, tmp_path)
        await open_form(pilot, screen)
        labels = {value: str(label) for label, value in screen.query_one("#f-gpu_product")._options}
        offer = {o.product: o for o in screen.gpu_offer}
        assert labels[A100] == f"{A100}  ({offer[A100].label()})"
        # The cordoned gpu-a100-03 (8 GPUs, none used) offers none of them.
        a100s = [a for a in app.hub.gpu.all_allocations() if a.gpu.product == A100 and "nvidia.com/gpu" in a.pools]
        usable = sum(a.pools["nvidia.com/gpu"].free for a in a100s if a.gpu.ready and not a.gpu.cordoned)
        assert any(a.gpu.cordoned for a in a100s)
        assert offer[A100].free == usable


async def test_a_configured_product_no_node_has_is_an_error(tmp_path):
    app = recorded_app("gpu")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = launch_screen(app, tmp_path, defaults={"gpu_product": "NVIDIA-B200"})
        await open_form(pilot, screen)
        assert screen.query_one("#f-gpu_product").is_blank()  # not preselected: no node has it
        screen.query_one("#f-gpu_product").value = A100
        await pilot.pause()
        assert "gpu_product" not in screen.errors


async def test_ctrl_p_opens_the_yaml_preview_not_the_command_palette(tmp_path):
    app = recorded_app("gpu")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = launch_screen(app, tmp_path)
        await open_form(pilot, screen)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, TextScreen), what="YAML preview")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, what="back on the form")
    # Elsewhere ctrl+p still does what Textual does (the palette), so nothing else changed.


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
@pytest.mark.parametrize("state", ["presets", "form", "product-list", "preview"])
def test_launch_form_snapshot(snap_compare, tmp_path, size, state):
    async def run_before(pilot):
        app = pilot.app
        screen = launch_screen(app, tmp_path)
        if state == "presets":
            await app.push_screen(screen)
            await until(pilot, lambda: screen.query_one("#presets").option_count > 0, what="presets")
            return
        await open_form(pilot, screen)
        for field in screen.query(Input):
            field.cursor_blink = False  # the same picture at any moment
        screen.query_one("#f-name").value = "train-demo"
        if state == "product-list":
            screen.query_one("#f-gpu_product").focus()
            await pilot.press("enter")
        elif state == "preview":
            await pilot.press("ctrl+p")
            await until(pilot, lambda: isinstance(app.screen, TextScreen), what="preview")
        await pilot.pause()

    assert snap_compare(recorded_app("gpu"), terminal_size=size, run_before=run_before)
