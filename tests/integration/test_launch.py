"""Launching presets into the demo cluster, and run images built on the test Docker engine."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest
from kubernetes import client

from cockpit.launch.apply import CREATE, ENSURE, KEEP, create, dry_run, follow, plan
from cockpit.launch.errors import ImageError, LaunchError
from cockpit.launch.library import PresetLibrary
from tests.conftest import api_client, wait_for

DELAY = "pod-complete.stage.kwok.x-k8s.io/delay"
A100 = "NVIDIA-A100-SXM4-80GB"


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    return PresetLibrary(tmp_path_factory.mktemp("user-presets"))


@pytest.fixture
def docker_client(docker_engine):
    import docker

    c = docker.DockerClient(base_url=docker_engine.docker_host)
    yield c
    c.close()


def core(api):
    return client.CoreV1Api(api)


def namespace_objects(api, namespace: str) -> set[tuple[str, str]]:
    """(kind, name) of everything a launch could create in `namespace` (leaving out the pods the
    seeded Argo workflows start on their own schedule)."""
    v1, batch, apps = client.CoreV1Api(api), client.BatchV1Api(api), client.AppsV1Api(api)
    custom = client.CustomObjectsApi(api)
    found = set()
    pods = [p for p in v1.list_namespaced_pod(namespace).items
            if "workflows.argoproj.io/workflow" not in (p.metadata.labels or {})]
    for kind, items in (("Pod", pods),
                        ("Service", v1.list_namespaced_service(namespace).items),
                        ("PersistentVolumeClaim", v1.list_namespaced_persistent_volume_claim(namespace).items),
                        ("Job", batch.list_namespaced_job(namespace).items),
                        ("Deployment", apps.list_namespaced_deployment(namespace).items)):
        found |= {(kind, o.metadata.name) for o in items}
    for group, version, plural in (("argoproj.io", "v1alpha1", "workflows"),
                                   ("kubeflow.org", "v1beta1", "experiments")):
        items = custom.list_namespaced_custom_object(group, version, namespace, plural)["items"]
        found |= {(plural, o["metadata"]["name"]) for o in items}
    return found


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BUILTINS = ["argo-pipeline", "gpu-devbox", "hyperopt-mlflow", "katib-random-search", "pytorch-multigpu",
            "pytorch-multinode", "pytorch-train", "tensorboard"]


# -- dry runs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_preset_passes_a_server_side_dry_run(presets, kube_admin, name, unique_name):
    assert sorted(presets.names()) == BUILTINS
    preset = presets.get(name)
    values = {"name": unique_name[:40].rstrip("-")}
    if "pvc" in preset.parameters:
        values["pvc"] = f"{values['name']}-data"
    p = plan(preset, values, "team-vision", kube_admin)
    assert p.to_create and all(o.action in (CREATE, ENSURE) for o in p.to_create)
    before = namespace_objects(kube_admin, "team-vision")
    accepted = dry_run(p)
    assert [o["kind"] for o in accepted] == [o.kind for o in p.to_create]
    assert all(o["metadata"]["namespace"] == "team-vision" for o in accepted)
    assert namespace_objects(kube_admin, "team-vision") == before  # a dry run stores nothing


def test_dry_run_reports_what_the_server_rejects(presets, kube_admin, unique_name):
    p = plan(presets.get("pytorch-train"), {"name": unique_name}, "team-vision", kube_admin)
    p.to_create[0].manifest["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Sometimes"
    with pytest.raises(LaunchError) as e:
        dry_run(p)
    assert e.value.failures and e.value.failures[0][0] == f"job/{unique_name}"
    assert "imagePullPolicy" in str(e.value)


def test_dry_run_into_a_namespace_that_does_not_exist_yet(presets, kube_admin, unique_name):
    p = plan(presets.get("gpu-devbox"), {"name": "box"}, unique_name, kube_admin)
    assert [(o.kind, o.action) for o in p.objects] == [("Namespace", ENSURE), ("PersistentVolumeClaim", ENSURE),
                                                       ("Pod", CREATE)]
    assert len(dry_run(p)) == 3
    assert unique_name not in {n.metadata.name for n in core(kube_admin).list_namespace().items}


# -- launching --------------------------------------------------------------------------------------

def test_gpu_job_lands_on_the_chosen_product_and_completes(presets, kube_admin, unique_name):
    values = {"name": unique_name, "gpu_product": A100, "pod_annotations": {DELAY: "1s"}}
    p = plan(presets.get("pytorch-train"), values, "team-vision", kube_admin)
    result = create(p)
    assert [c.ref for c in result.created] == [f"job/{unique_name}"]
    seen: list[str] = []
    outcome = follow(result, on_status=seen.append, timeout=90)
    assert outcome.ok and outcome.state == "Succeeded", (outcome, seen)
    assert seen and seen[-1].startswith(f"job/{unique_name}: ")
    pods = core(kube_admin).list_namespaced_pod("team-vision", label_selector=f"job-name={unique_name}").items
    assert len(pods) == 1 and pods[0].status.phase == "Succeeded"
    node = core(kube_admin).read_node(pods[0].spec.node_name)
    assert node.metadata.labels["nvidia.com/gpu.product"] == A100
    assert pods[0].spec.containers[0].resources.limits["nvidia.com/gpu"] == "1"


def test_a_failing_job_is_reported_as_failed(presets, kube_admin, unique_name):
    values = {"name": unique_name, "pod_annotations": {DELAY: "1s", "demo.gpu-cockpit.dev/exit-code": "3"}}
    result = create(plan(presets.get("pytorch-train"), values, "team-nlp", kube_admin))
    outcome = follow(result, timeout=90)
    assert not outcome.ok and outcome.state == "Failed", outcome


def test_argo_pipeline_is_followed_to_succeeded(presets, kube_admin, unique_name):
    values = {"name": unique_name, "pod_annotations": {DELAY: "1s"}, "gpu_product": A100}
    result = create(plan(presets.get("argo-pipeline"), values, "team-nlp", kube_admin))
    assert [c.kind for c in result.created] == ["Workflow"]
    outcome = follow(result, timeout=120)
    assert outcome.ok and outcome.state == "Succeeded", outcome


def test_a_name_that_is_taken_is_refused_at_plan_time(presets, kube_admin):
    with pytest.raises(LaunchError, match="job/resnet50-train already exists"):
        plan(presets.get("pytorch-train"), {"name": "resnet50-train"}, "team-vision", kube_admin)


def test_a_failed_create_leaves_nothing_behind(presets, kube_admin, unique_name):
    p = plan(presets.get("pytorch-multinode"), {"name": unique_name}, "team-vision", kube_admin)
    assert [o.kind for o in p.to_create] == ["Service", "Job"]
    # Someone takes the Job's name between plan and create: the Service made first must go again.
    client.BatchV1Api(kube_admin).create_namespaced_job("team-vision", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": unique_name},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": "busybox"}]}}}})
    with pytest.raises(LaunchError) as e:
        create(p)
    assert f"creating job/{unique_name} failed" in str(e.value) and "already exists" in str(e.value)
    assert f"deleted service/{unique_name}" in str(e.value)
    assert ("Service", unique_name) not in namespace_objects(kube_admin, "team-vision")


def test_read_only_refuses_before_sending_anything(presets, kube_admin, demo_cluster, unique_name):
    from cockpit.kube.connection import guard_read_only

    p = plan(presets.get("pytorch-train"), {"name": unique_name}, "team-vision", kube_admin, read_only=True)
    with pytest.raises(LaunchError, match="read-only"):
        create(p)
    with pytest.raises(LaunchError, match="read-only"):
        dry_run(p)
    # A client the cockpit made read-only: planning reads, creating is refused by us first.
    guarded = api_client(demo_cluster, "cockpit-demo")
    guard_read_only(guarded, True)
    p = plan(presets.get("pytorch-train"), {"name": unique_name}, "team-vision", guarded)
    assert p.read_only
    with pytest.raises(LaunchError, match="read-only mode: refusing to create anything"):
        create(p)
    assert ("Job", unique_name) not in namespace_objects(kube_admin, "team-vision")


def test_devbox_creates_namespace_and_pvc_and_never_touches_an_existing_pvc(presets, kube_admin, demo_cluster,
                                                                            unique_name):
    api = api_client(demo_cluster, "cockpit-demo")
    api.user_agent = f"gpu-cockpit-launch-test/{unique_name}"
    devbox = presets.get("gpu-devbox")
    ns = unique_name
    p = plan(devbox, {"name": "box-1", "pvc": "work", "pvc_size": "5Gi"}, ns, api)
    result = create(p)
    assert [c.ref for c in result.created] == ["namespace/" + ns, "persistentvolumeclaim/work", "pod/box-1"]
    v1 = core(kube_admin)
    claim = v1.read_namespaced_persistent_volume_claim("work", ns)
    assert claim.spec.resources.requests["storage"] == "5Gi"
    assert v1.read_namespaced_pod("box-1", ns).spec.volumes[0].persistent_volume_claim.claim_name == "work"

    # The seeded, bound claim: a second launch uses it as it is.
    existing = v1.read_namespaced_persistent_volume_claim("alice-data", "team-vision")
    p2 = plan(devbox, {"name": f"box-{unique_name}"[:50], "pvc": "alice-data", "pvc_size": "80Gi"}, "team-vision",
              api)
    assert [(o.kind, o.action) for o in p2.objects] == [("Namespace", KEEP), ("PersistentVolumeClaim", KEEP),
                                                        ("Pod", CREATE)]
    assert any("alice-data exists with 40Gi" in n for n in p2.notes)
    result2 = create(p2)
    assert [c.kind for c in result2.created] == ["Pod"]
    assert "persistentvolumeclaim/alice-data unchanged (exists) in team-vision" in result2.lines()
    after = v1.read_namespaced_persistent_volume_claim("alice-data", "team-vision")
    assert after.metadata.resource_version == existing.metadata.resource_version
    assert after.spec.resources.requests["storage"] == "40Gi"

    # And the audit log shows this client never wrote a PVC it did not create.
    def our_events():
        lines = demo_cluster.audit_log.read_text().splitlines() if demo_cluster.audit_log.exists() else []
        return [ev for ev in map(json.loads, lines) if ev.get("userAgent") == api.user_agent
                and ev.get("stage") == "ResponseComplete"]

    def writes():
        return [(e["verb"], (e.get("objectRef") or {}).get("resource"), (e.get("objectRef") or {}).get("name"))
                for e in our_events() if e["verb"] not in ("get", "list", "watch")]

    wait_for(lambda: sum(verb == "create" and res == "pods" for verb, res, _ in writes()) == 2, 20,
             what="audit events of both pod creates")
    assert sum(verb == "create" and res == "persistentvolumeclaims" for verb, res, _ in writes()) == 1
    assert not any(name == "alice-data" for _, _, name in writes()), writes()
    assert any(e["verb"] == "get" and (e.get("objectRef") or {}).get("name") == "alice-data" for e in our_events())


# -- images from local code ----------------------------------------------------------------------------

def code_dir(tmp_path, token: str):
    d = tmp_path / "exp"
    d.mkdir(exist_ok=True)
    (d / "train.py").write_text(f"print('training {token}')\n")
    return d


def registry_tags(registry: str, repo: str) -> list[str]:
    return json.loads(urllib.request.urlopen(f"http://{registry}/v2/{repo}/tags/list").read())["tags"]


def test_build_push_only_when_changed(docker_client, docker_engine, tmp_path, unique_name):
    from cockpit.launch.image import build_image
    from tests.support.engine import busybox_base_image

    base = busybox_base_image(docker_client)
    src = code_dir(tmp_path, unique_name)
    output: list[str] = []
    progress: list[tuple[str, int, int]] = []
    repo = f"team-vision/{unique_name}"
    first = build_image(docker_client, src, base, None, docker_engine.registry, repo, output.append,
                        lambda *a: progress.append(a), tag="20240101-000001")
    assert first.pushed and first.reference == f"{docker_engine.registry}/{repo}@{first.digest}"
    assert first.tagged.endswith(":20240101-000001")
    assert any("COPY code/ /workspace/" in line for line in output)
    assert progress and all(total > 0 for _, _, total in progress)
    assert registry_tags(docker_engine.registry, repo) == ["20240101-000001"]

    output.clear()
    again = build_image(docker_client, src, base, None, docker_engine.registry, repo, output.append)
    assert not again.pushed and again.digest == first.digest and again.image_id == first.image_id
    assert any("Using cache" in line for line in output)
    assert any("not pushing" in line for line in output)
    assert registry_tags(docker_engine.registry, repo) == ["20240101-000001"]

    (src / "train.py").write_text("print('changed')\n")
    changed = build_image(docker_client, src, base, None, docker_engine.registry, repo, tag="20240101-000002")
    assert changed.pushed and changed.digest != first.digest
    assert sorted(registry_tags(docker_engine.registry, repo)) == ["20240101-000001", "20240101-000002"]


def test_requirements_run_through_pip_in_the_base(docker_client, docker_engine, tmp_path, unique_name):
    """The RUN step works: a base whose `pip` is a busybox shell script records the install."""
    import io
    import tarfile

    from cockpit.launch.image import build_image
    from tests.support.engine import busybox_base_image

    busybox = busybox_base_image(docker_client)
    dockerfile = (f"FROM {busybox}\n"
                  "RUN printf '#!/bin/sh\\necho \"fake-pip ran: $*\"\\ncat \"$4\"\\n' > /bin/pip && chmod +x /bin/pip\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile.encode()))
    buf.seek(0)
    docker_client.images.build(fileobj=buf, custom_context=True, tag="cockpit-test/fake-pip:1", rm=True)
    src = code_dir(tmp_path, unique_name)
    req = tmp_path / "requirements.txt"
    req.write_text(f"torch==2.4.0  # {unique_name}\n")
    output: list[str] = []
    built = build_image(docker_client, src, "cockpit-test/fake-pip:1", req, docker_engine.registry,
                        f"team-vision/{unique_name}-req", output.append)
    assert built.pushed
    assert "fake-pip ran: install --no-cache-dir -r /tmp/cockpit/requirements.txt" in output
    assert f"torch==2.4.0  # {unique_name}" in output


def test_requirements_on_a_base_without_pip_fail_clearly(docker_client, docker_engine, tmp_path, unique_name):
    from cockpit.launch.image import build_image
    from tests.support.engine import busybox_base_image

    base = busybox_base_image(docker_client)
    req = tmp_path / "requirements.txt"
    req.write_text("numpy\n")
    with pytest.raises(ImageError, match=f"the base image {base} has no pip"):
        build_image(docker_client, code_dir(tmp_path, unique_name), base, req, docker_engine.registry,
                    f"team-vision/{unique_name}")


def test_cli_builds_pushes_and_launches_the_image(docker_client, docker_engine, demo_cluster, kube_admin, tmp_path,
                                                  unique_name, monkeypatch, capsys):
    from cockpit.launch.cli import launch_main
    from tests.support.engine import busybox_base_image

    base = busybox_base_image(docker_client)
    monkeypatch.setenv("DOCKER_HOST", docker_engine.docker_host)
    src = code_dir(tmp_path, unique_name)
    rc = launch_main(["pytorch-train", "--kubeconfig", str(demo_cluster.kubeconfig), "--context", "cockpit-demo",
                      "-n", "team-vision", "--from-dir", str(src), "--base-image", base,
                      "--registry", f"http://{docker_engine.registry}/", "--set", f"name={unique_name}",
                      "--set", f"gpu_product={A100}", "--set", f"pod_annotations.{DELAY}=1s",
                      "--wait", "--timeout", "90", "--", "--lr", "0.1"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    image = next(line.split()[1] for line in out.splitlines() if line.startswith("image "))
    assert image.startswith(f"{docker_engine.registry}/team-vision/exp@sha256:")
    assert f"job/{unique_name} created in team-vision" in out and f"job/{unique_name}: Succeeded" in out
    assert "Step" in err  # the build output streamed
    pods = core(kube_admin).list_namespaced_pod("team-vision", label_selector=f"job-name={unique_name}").items
    assert pods[0].spec.containers[0].image == image
    assert pods[0].spec.containers[0].args == ["--lr", "0.1"]


def test_push_to_a_stopped_registry_fails_clearly_and_creates_nothing(docker_client, docker_engine, demo_cluster,
                                                                      kube_admin, tmp_path, unique_name,
                                                                      monkeypatch, capsys):
    from cockpit.launch.cli import launch_main
    from cockpit.launch.image import build_image
    from tests.support.engine import busybox_base_image

    base = busybox_base_image(docker_client)
    dead = f"127.0.0.1:{closed_port()}"
    src = code_dir(tmp_path, unique_name)
    with pytest.raises(ImageError, match=rf"pushing {dead}/team-vision/\S+ failed: .*(refused|connect)"):
        build_image(docker_client, src, base, None, dead, f"team-vision/{unique_name}")

    monkeypatch.setenv("DOCKER_HOST", docker_engine.docker_host)
    before = namespace_objects(kube_admin, "team-vision")
    rc = launch_main(["pytorch-train", "--kubeconfig", str(demo_cluster.kubeconfig), "--context", "cockpit-demo",
                      "-n", "team-vision", "--from-dir", str(src), "--base-image", base, "--registry", dead,
                      "--set", f"name={unique_name}", "--set", "pvc=" + unique_name[:40]])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"error: pushing {dead}/team-vision/exp:" in err and "failed" in err
    assert "Traceback" not in err
    assert namespace_objects(kube_admin, "team-vision") == before


def test_cli_dry_run_and_a_plain_launch(demo_cluster, kube_admin, unique_name, capsys):
    from cockpit.launch.cli import launch_main

    common = ["--kubeconfig", str(demo_cluster.kubeconfig), "--context", "cockpit-demo", "-n", "team-nlp"]
    assert launch_main(["katib-random-search", *common, "--set", f"name={unique_name[:40]}", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "create" in out and "the server accepts all 1 object(s)" in out
    assert launch_main(["katib-random-search", *common, "--set", f"name={unique_name[:40]}"]) == 0
    assert f"experiment/{unique_name[:40]} created in team-nlp" in capsys.readouterr().out
    exp = client.CustomObjectsApi(kube_admin).get_namespaced_custom_object(
        "kubeflow.org", "v1beta1", "team-nlp", "experiments", unique_name[:40])
    assert exp["spec"]["algorithm"]["algorithmName"] == "random"
    assert launch_main(["pytorch-train", *common, "--context", "no-such-context"]) == 1
    err = capsys.readouterr().err
    assert "error: context 'no-such-context' is not in the kubeconfig" in err
    assert "known contexts: cockpit-demo, cockpit-demo-viewer" in err


def test_cli_takes_the_contexts_defaults_from_the_config(demo_cluster, kube_admin, unique_name, tmp_path,
                                                         monkeypatch):
    from cockpit.launch.cli import launch_main

    config = tmp_path / "config.yaml"
    config.write_text("contexts:\n  cockpit-demo:\n    namespace: team-nlp\n"
                      "    resources: {cpu: \"3\", memory: 12Gi, gpus: 2}\n")
    monkeypatch.setenv("COCKPIT_CONFIG", str(config))
    rc = launch_main(["pytorch-train", "--kubeconfig", str(demo_cluster.kubeconfig), "--context", "cockpit-demo",
                      "--set", f"name={unique_name}"])
    assert rc == 0
    job = client.BatchV1Api(kube_admin).read_namespaced_job(unique_name, "team-nlp")
    limits = job.spec.template.spec.containers[0].resources.limits
    assert limits["nvidia.com/gpu"] == "2" and limits["cpu"] == "3" and limits["memory"] == "12Gi"
