"""Presets: the schema validator, the template renderer, parameter types, the built-in presets,
the live-reloading library and the `cockpit presets` / `cockpit launch` argument handling."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import textwrap
import threading
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.launch.errors import ParameterError, PresetError, TemplateError
from cockpit.launch.library import PresetLibrary, builtin_preset_files
from cockpit.launch.params import Parameter
from cockpit.launch.preset import parse_preset, parse_set, validate_preset_text
from cockpit.launch.template import Template

REPO = Path(__file__).resolve().parents[2]
BUILTIN_NAMES = {"pytorch-train", "pytorch-multigpu", "pytorch-multinode", "gpu-devbox", "tensorboard",
                 "hyperopt-mlflow", "argo-pipeline", "katib-random-search"}


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return PresetLibrary(tmp_path_factory.mktemp("no-user-presets"))


def builtins():
    return {p.name: p for p in (parse_preset(text, file, "builtin") for file, text in builtin_preset_files())}


BUILTINS = builtins()


def render1(template: str, **context):
    return Template(textwrap.dedent(template)).render(context)


def pod_specs(doc: dict) -> list[dict]:
    """Every pod spec inside a manifest (Job, Pod, Deployment, Workflow step, Katib trial)."""
    kind = doc["kind"]
    if kind == "Pod":
        return [doc["spec"]]
    if kind in ("Job", "Deployment"):
        return [doc["spec"]["template"]["spec"]]
    if kind == "Experiment":
        return [doc["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]]
    if kind == "Workflow":
        return [{"containers": [t["container"]], **{k: v for k, v in t.items() if k != "container"}}
                for t in doc["spec"]["templates"] if "container" in t]
    return []


# -- built-in presets -----------------------------------------------------------------------------

def test_every_builtin_preset_is_there_and_valid(library):
    assert set(BUILTINS) == BUILTIN_NAMES
    assert set(library.names()) == BUILTIN_NAMES
    assert library.errors == []
    for file, text in builtin_preset_files():
        preset, errors = validate_preset_text(text, file)
        assert errors == [], errors
        assert preset.description and preset.creates


@pytest.mark.parametrize("name", sorted(BUILTIN_NAMES))
def test_builtin_renders_with_defaults(name):
    preset = BUILTINS[name]
    docs = preset.render({}, "team-vision")
    assert docs
    kinds = {d["kind"] for d in docs}
    assert kinds <= set(preset.creates), (kinds, preset.creates)
    for doc in docs:
        assert doc["metadata"]["namespace"] == "team-vision"
        assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "gpu-cockpit"
        assert doc["metadata"]["labels"]["gpu-cockpit.dev/preset"] == name
        if doc["kind"] == "Job":
            assert doc["spec"]["backoffLimit"] == 0
            assert doc["spec"]["template"]["spec"]["restartPolicy"] == "Never"
            assert doc["spec"]["ttlSecondsAfterFinished"] >= 0
    # A generated, timestamped name when none is given.
    workload = next(d for d in docs if d["kind"] != "PersistentVolumeClaim")
    assert workload["metadata"]["name"].startswith(name + "-")


@pytest.mark.parametrize("name", sorted(n for n, p in BUILTINS.items() if "gpu_product" in p.parameters))
def test_gpu_product_is_a_node_selector_and_the_toleration_optional(name):
    preset = BUILTINS[name]
    docs = preset.render({"gpu_product": "NVIDIA-H100-80GB-HBM3", "gpu_toleration": "dedicated=llm:NoSchedule"}, "ns")
    specs = [s for d in docs for s in pod_specs(d) if s.get("nodeSelector")]
    assert specs, "no pod spec with a nodeSelector"
    for spec in specs:
        assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
        assert spec["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "llm",
                                        "effect": "NoSchedule"}]
    plain = preset.render({}, "ns")
    for spec in (s for d in plain for s in pod_specs(d)):
        assert "nodeSelector" not in spec and not spec.get("tolerations")


def test_pytorch_train_values_reach_the_job():
    docs = BUILTINS["pytorch-train"].render(parse_set([
        "name=exp1", "image=registry.local:5000/team/exp@sha256:" + "a" * 64, "gpus=2", "cpu=500m",
        "memory=8Gi", "env=LR=0.1,EPOCHS=3", "secret_env=WANDB_API_KEY=wandb:key", "ports=tb=6006",
        "pvc=scratch", "pvc_size=10Gi", "ttl_seconds_after_finished=60", "args=--lr 0.1 --name 'a b'",
        "pod_annotations.pod-complete.stage.kwok.x-k8s.io/delay=1s",
    ]), "team-nlp")
    job = next(d for d in docs if d["kind"] == "Job")
    pvc = next(d for d in docs if d["kind"] == "PersistentVolumeClaim")
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert job["metadata"]["name"] == "exp1"
    assert c["image"].endswith("@sha256:" + "a" * 64)
    assert c["resources"]["limits"] == {"cpu": "500m", "memory": "8Gi", "nvidia.com/gpu": "2"}
    assert c["args"] == ["--lr", "0.1", "--name", "a b"]
    assert {"name": "LR", "value": "0.1"} in c["env"]
    assert {"name": "WANDB_API_KEY", "valueFrom": {"secretKeyRef": {"name": "wandb", "key": "key"}}} in c["env"]
    assert c["ports"] == [{"containerPort": 6006, "protocol": "TCP", "name": "tb"}]
    assert c["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert job["spec"]["ttlSecondsAfterFinished"] == 60
    assert job["spec"]["template"]["metadata"]["annotations"] == {"pod-complete.stage.kwok.x-k8s.io/delay": "1s"}
    assert pvc["metadata"]["name"] == "scratch" and pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_cpu_only_run_asks_for_no_gpu():
    job = BUILTINS["pytorch-train"].render({"gpus": 0}, "ns")[0]
    assert "nvidia.com/gpu" not in job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]


def test_multinode_is_an_indexed_job_with_a_headless_service():
    docs = BUILTINS["pytorch-multinode"].render({"name": "ddp", "parallelism": "4"}, "ns")
    svc = next(d for d in docs if d["kind"] == "Service")
    job = next(d for d in docs if d["kind"] == "Job")
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["parallelism"] == job["spec"]["completions"] == 4
    pod = job["spec"]["template"]
    assert pod["spec"]["subdomain"] == svc["metadata"]["name"] == "ddp"
    assert all(pod["metadata"]["labels"][k] == v for k, v in svc["spec"]["selector"].items())
    c = pod["spec"]["containers"][0]
    env = {e["name"]: e for e in c["env"]}
    assert env["MASTER_ADDR"]["value"] == "ddp-0.ddp"
    assert env["WORLD_SIZE"]["value"] == "4"
    assert "job-completion-index" in env["NODE_RANK"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_devbox_sleeps_with_a_pvc_at_data_and_jupyter_port():
    docs = BUILTINS["gpu-devbox"].render({"name": "box"}, "ns")
    pvc = next(d for d in docs if d["kind"] == "PersistentVolumeClaim")
    pod = next(d for d in docs if d["kind"] == "Pod")
    c = pod["spec"]["containers"][0]
    assert c["command"] == ["sleep", "infinity"]
    assert {"name": "data", "mountPath": "/data"} in c["volumeMounts"]
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert [p["containerPort"] for p in c["ports"]] == [8888]


def test_tensorboard_deployment_and_service_on_6006():
    docs = BUILTINS["tensorboard"].render({"name": "tb"}, "ns")
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["Deployment", "PersistentVolumeClaim", "Service"]
    svc = next(d for d in docs if d["kind"] == "Service")
    assert svc["spec"]["ports"][0]["port"] == 6006


def test_hyperopt_mlflow_takes_s3_credentials_from_secrets():
    job = BUILTINS["hyperopt-mlflow"].render({"mlflow_tracking_uri": "http://mlflow:5000"}, "ns")[0]
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLFLOW_TRACKING_URI"]["value"] == "http://mlflow:5000"
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {"name": "awsacct", "key": "awsacct"}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "awskey", "key": "awskey"}
    with pytest.raises(ParameterError, match="mlflow_tracking_uri"):
        BUILTINS["hyperopt-mlflow"].render({"mlflow_tracking_uri": "not a url"}, "ns")


def test_argo_pipeline_is_preprocess_train_evaluate_with_the_gpu_in_train():
    wf = BUILTINS["argo-pipeline"].render({}, "ns")[0]
    dag = next(t for t in wf["spec"]["templates"] if t["name"] == wf["spec"]["entrypoint"])["dag"]["tasks"]
    assert [(t["name"], t.get("depends")) for t in dag] == [("preprocess", None), ("train", "preprocess"),
                                                           ("evaluate", "train")]
    steps = {t["name"]: t for t in wf["spec"]["templates"]}
    assert steps["train"]["container"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in steps["preprocess"]["container"]["resources"]["limits"]


def test_katib_random_search_over_lr_and_batch_size():
    exp = BUILTINS["katib-random-search"].render({"lr_min": "1e-5", "max_trials": 8}, "ns")[0]
    spec = exp["spec"]
    assert spec["algorithm"]["algorithmName"] == "random"
    params = {p["name"]: p for p in spec["parameters"]}
    assert params["lr"]["feasibleSpace"] == {"min": "1e-05", "max": "0.1"}
    assert params["batch_size"]["parameterType"] == "int"
    assert spec["maxTrialCount"] == 8
    trial = spec["trialTemplate"]["trialSpec"]
    assert trial["kind"] == "Job"
    assert "${trialParameters.learningRate}" in " ".join(
        trial["spec"]["template"]["spec"]["containers"][0]["command"])


def test_cli_validates_the_builtin_folder(capsys):
    from cockpit.launch.cli import presets_main

    files = sorted(str(p) for p in (REPO / "presets").glob("*.yaml"))
    assert presets_main(["validate", *files]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok (") == len(BUILTIN_NAMES)


# -- broken presets: file:line errors ---------------------------------------------------------------

GOOD = """\
name: tiny
description: a tiny preset
parameters:
  gpus:
    type: integer
    default: 1
templates:
  - |
    apiVersion: v1
    kind: Pod
    metadata:
      name: tiny
    spec:
      containers:
        - name: main
          image: busybox
          resources: {limits: {nvidia.com/gpu: "{{ gpus }}"}}
"""


def error_of(text: str) -> PresetError:
    with pytest.raises(PresetError) as e:
        parse_preset(text, "tiny.yaml")
    return e.value


def test_the_good_one_is_good():
    pod = parse_preset(GOOD, "tiny.yaml").render({"gpus": "3"}, "ns")[0]
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "3"


def test_bad_yaml_has_the_parser_line():
    e = error_of(GOOD.replace("    default: 1\n", "    default: [1\n"))
    assert e.file == "tiny.yaml" and e.line in (6, 7) and "bad YAML" in e.message
    assert str(e).startswith(f"tiny.yaml:{e.line}: ")


def test_unknown_field_has_its_line_and_a_suggestion():
    e = error_of(GOOD.replace("description:", "descripton:"))
    assert (e.line, e.field) == (2, "descripton")
    assert "unknown field" in e.message and "'description'" in e.message
    e = error_of(GOOD.replace("    default: 1\n", "    default: 1\n    minimum: 0\n"))
    assert (e.line, e.field) == (7, "parameters.gpus.minimum")


def test_wrong_type_has_its_line():
    e = error_of(GOOD.replace("description: a tiny preset", "description: [a, list]"))
    assert (e.line, e.field) == (2, "description") and "expected a string" in e.message
    e = error_of(GOOD.replace("    type: integer", "    type: int"))
    assert (e.line, e.field) == (5, "parameters.gpus.type") and "integer" in e.message
    e = error_of(GOOD.replace("templates:\n  - |", "templates:\n  - 42\n  - |"))
    assert (e.line, e.field) == (8, "templates[0]")


def test_missing_required_field():
    e = error_of(GOOD.replace("name: tiny\n", ""))
    assert e.field == "name" and "missing required field" in e.message and e.line == 1
    e = error_of(GOOD.replace("    type: integer\n", ""))
    assert e.field == "parameters.gpus.type" and e.line == 5


def test_bad_default_min_max_enum_pattern():
    e = error_of(GOOD.replace("    default: 1", "    default: lots"))
    assert (e.line, e.field) == (6, "parameters.gpus.default") and "bad default" in e.message
    e = error_of(GOOD.replace("    default: 1", "    default: 1\n    min: 2"))
    assert e.field == "parameters.gpus.default" and "minimum" in e.message
    e = error_of(GOOD.replace("    default: 1", "    default: 1\n    pattern: '['"))
    assert e.field == "parameters.gpus.pattern"
    e = error_of(GOOD.replace("    default: 1", "    default: 1\n    enum: [1, two]"))
    assert e.field == "parameters.gpus.enum"


def test_template_errors_point_into_the_file():
    # line 15 of the file is `name: main` inside the first template
    e = error_of(GOOD.replace("        - name: main", "        - name: {{ nmae }}"))
    assert (e.line, e.field) == (15, "templates[0]") and "not a declared parameter" in e.message
    assert "did you mean" not in e.message or "'name'" not in e.message
    e = error_of(GOOD.replace("      name: tiny\n", "      name: tiny\n    {% if gpus %}\n"))
    assert isinstance(e, TemplateError) and e.line == 13 and "not closed" in e.message
    e = error_of(GOOD.replace("    spec:\n", "    spec: [\n"))
    assert isinstance(e, TemplateError) and "not valid YAML" in e.message and 13 <= e.line <= 18
    e = error_of(GOOD.replace("{{ gpus }}", "{{ gpus | shout }}"))
    assert e.line == 17 and "unknown filter" in e.message


def test_every_error_is_reported_by_validate(tmp_path, capsys):
    from cockpit.launch.cli import presets_main

    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("description:", "descripton:").replace("    type: integer", "    type: int"))
    assert presets_main(["validate", str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{bad}:2: descripton: " + lines[0].split(": ", 2)[2],
                     f"{bad}:5: parameters.gpus.type: " + lines[1].split(": ", 2)[2]]


def test_empty_and_multi_document_files():
    assert "empty" in error_of("").message
    assert error_of("# nothing\n").line == 1
    e = error_of(GOOD + "---\nname: second\n")
    assert "one preset per file" in e.message
    assert "mapping" in error_of("- just\n- a list\n").message


_EDITS = st.sampled_from(["", "{{", "}}", "{%", "%}", " if ", "endif", ":", "- ", "[", "]", "&a ", "*a", "\n", "  ",
                          "<<: ", "!!int ", "!!binary ", "|", "\t", "'", '"', "{{ gpus }}", "{% if gpus %}",
                          "{% endif %}", "\x00", "\u2028"]) | st.text(max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mangled_preset_gives_a_preset_error_and_nothing_else(data):
    text = GOOD
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 12)))
        text = text[:i] + data.draw(_EDITS) + text[j:]
    try:
        parse_preset(text, "mangled.yaml")
    except PresetError as e:
        assert e.file == "mangled.yaml" and str(e)


def test_odd_yaml_is_reported_not_raised():
    for text in ("a: &x [*x]\n", "name: x\ntemplates: [&x [*x]]\n", "? [a]\n: b\n", "name: !!int\n",
                 "name: !!python/object:os.system x\n", "name: x\n\x00"):
        e = error_of(text)
        assert "\n" not in e.message, e.message
    assert error_of("name: x\n\x00").line == 2


def test_duplicate_keys_are_errors():
    e = error_of(GOOD.replace("name: tiny\n", "name: tiny\nname: again\n", 1))
    assert e.line == 2 and "duplicate" in e.message


# -- parameter values -------------------------------------------------------------------------------

def param(ptype: str, **kw) -> Parameter:
    return Parameter(name="p", type=ptype, **kw)


@pytest.mark.parametrize(("ptype", "given", "expected"), [
    ("string", "hello", "hello"),
    ("string", 42, "42"),
    ("integer", " 7 ", 7),
    ("integer", 7.0, 7),
    ("number", "1e-3", 0.001),
    ("boolean", "yes", True),
    ("boolean", "OFF", False),
    ("quantity", "500m", "500m"),
    ("quantity", 4, "4"),
    ("quantity", "1.5Gi", "1.5Gi"),
    ("image", "127.0.0.1:5000/team/exp:20240101-120000", "127.0.0.1:5000/team/exp:20240101-120000"),
    ("image", "busybox", "busybox"),
    ("list", "python train.py --name 'a b'", ["python", "train.py", "--name", "a b"]),
    ("list", "[a, 1, true]", ["a", "1", "true"]),
    ("list", "", []),
    ("map", "A=1, B = two", {"A": "1", "B": "two"}),
    ("map", "{A: 1}", {"A": "1"}),
    ("secretRefs", "AWS_KEY=awskey:awskey,TOKEN=tok", {"AWS_KEY": {"secret": "awskey", "key": "awskey"},
                                                        "TOKEN": {"secret": "tok", "key": "TOKEN"}}),
    ("ports", "8888, tb=6006", [{"name": None, "port": 8888}, {"name": "tb", "port": 6006}]),
    ("ports", 8080, [{"name": None, "port": 8080}]),
])
def test_coercion(ptype, given, expected):
    assert param(ptype).coerce(given) == expected


@pytest.mark.parametrize(("ptype", "given", "message"), [
    ("integer", "ten", "expected an integer"),
    ("integer", "9" * 5000, "expected an integer"),
    ("integer", True, "expected an integer"),
    ("number", "nan", "expected a number"),
    ("number", "1e999", "finite"),
    ("boolean", "maybe", "expected true or false"),
    ("quantity", "32 GB", "expected a quantity"),
    ("quantity", "-1", "negative"),
    ("image", "Not An Image", "not an image reference"),
    ("list", "'unbalanced", "cannot split"),
    ("list", "[a, [b]]", "item 2 must be text"),
    ("map", "novalue", "KEY=VALUE"),
    ("map", "{a: [1]}", "must be text"),
    ("secretRefs", "1BAD=x", "not an environment variable name"),
    ("secretRefs", "OK=Bad_Secret", "not a Secret name"),
    ("ports", "70000", "outside 1..65535"),
    ("ports", "8080,8080", "given twice"),
    ("ports", "Jupyter=8888", "not a port name"),
    ("string", ["a"], "expected text"),
])
def test_bad_values_have_clear_messages(ptype, given, message):
    with pytest.raises(ValueError, match=message):
        param(ptype).coerce(given)


def test_bounds_enum_and_pattern_apply_to_user_values():
    with pytest.raises(ValueError, match="below the minimum 1"):
        param("integer", min=1).coerce("0")
    with pytest.raises(ValueError, match="above the maximum 64Gi"):
        param("quantity", max="64Gi").coerce("65Gi")
    with pytest.raises(ValueError, match="not one of: a, b"):
        param("string", enum=("a", "b")).coerce("c")
    with pytest.raises(ValueError, match="does not match"):
        param("map", pattern="^[A-Z_]+$").coerce("lower=1")


def test_parameter_errors_name_every_bad_value():
    preset = BUILTINS["pytorch-train"]
    with pytest.raises(ParameterError) as e:
        preset.render({"gpus": "many", "cpu": "lots", "gpuz": "1"}, "ns")
    assert set(e.value.errors) == {"gpus", "cpu", "gpuz"}
    assert "did you mean 'gpus'" in e.value.errors["gpuz"]
    assert "gpus: expected an integer, got 'many'" in str(e.value)


def test_required_parameter_without_default():
    preset = parse_preset(GOOD.replace("    default: 1", "    required: true"), "tiny.yaml")
    with pytest.raises(ParameterError, match="gpus: a value is required"):
        preset.render({}, "ns")


def test_parse_set():
    assert parse_set(["a=1", "b=x=y", "env.LR=0.1", "env.BS=8"]) == {"a": "1", "b": "x=y",
                                                                    "env": {"LR": "0.1", "BS": "8"}}
    with pytest.raises(ParameterError, match="expected key=value"):
        parse_set(["novalue"])
    with pytest.raises(ParameterError, match="only map parameters"):
        parse_set(["gpus.x=1"], BUILTINS["pytorch-train"])


# -- fuzzing: any value gives manifests or a clear error ----------------------------------------------

_ANY_VALUE = st.one_of(st.text(max_size=40), st.integers(), st.integers(-5, 70000).map(str),
                       st.floats(allow_nan=True), st.booleans(), st.none(),
                       st.lists(st.text(max_size=8), max_size=3),
                       st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3))


def _fuzz_one(preset, values):
    try:
        docs = preset.render(values, "fuzz")
    except (PresetError, ParameterError) as e:
        assert str(e)  # a message, not a traceback
        return
    assert isinstance(docs, list) and docs
    for doc in docs:
        json.dumps(doc)  # plain data the API client can send
        assert isinstance(doc["metadata"]["name"], str)


@pytest.mark.parametrize("name", sorted(BUILTIN_NAMES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_every_parameter(name, data):
    preset = BUILTINS[name]
    pname = data.draw(st.sampled_from(sorted(preset.parameters)))
    value = data.draw(_ANY_VALUE)
    _fuzz_one(preset, {pname: value})


@pytest.mark.parametrize("name", sorted(BUILTIN_NAMES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_many_parameters_as_set_strings(name, data):
    preset = BUILTINS[name]
    keys = data.draw(st.lists(st.sampled_from(sorted(preset.parameters)), max_size=6, unique=True))
    items = [f"{k}={data.draw(st.text(max_size=30))}" for k in keys]
    try:
        values = parse_set(items, preset)
    except ParameterError:
        return
    _fuzz_one(preset, values)


def test_every_parameter_of_every_builtin_gets_text_and_numbers():
    for preset in BUILTINS.values():
        for pname in preset.parameters:
            for value in ("", "x", "0", "-1", "65536", "a=b", "[1, 2]", "{a: b}", "\n: evil", 0, -3, 10**20, 1.5):
                _fuzz_one(preset, {pname: value})


# -- the template renderer ---------------------------------------------------------------------------

def test_values_cannot_change_the_yaml_structure():
    doc = render1("""\
        kind: X
        a: {{ v }}
        b: "{{ v }}"
        c: pre-{{ v }}-post
        """, v="x\n  injected: true\n- item: {{ other }} # !!python/object")[0]
    assert set(doc) == {"kind", "a", "b", "c"}
    assert doc["a"] == doc["b"] == "x\n  injected: true\n- item: {{ other }} # !!python/object"
    assert doc["c"].startswith("pre-x\n")


def test_plain_placeholders_keep_types_quoted_ones_are_strings():
    doc = render1("""\
        i: {{ i }}
        s: "{{ i }}"
        b: {{ b }}
        l: {{ l }}
        m: {{ m }}
        n: {{ missing }}
        t: {{ yes_text }}
        {{ key }}: value
        """, i=3, b=False, l=["a", "b"], m={"k": "v"}, yes_text="yes", key="nvidia.com/gpu")[0]
    assert doc == {"i": 3, "s": "3", "b": False, "l": ["a", "b"], "m": {"k": "v"}, "n": None, "t": "yes",
                   "nvidia.com/gpu": "value"}


def test_text_around_placeholders():
    doc = render1('x: "{{ a }}-{{ b }}.svc"\ny: --lr={{ lr }}\nz: {{ flag }}/{{ none }}\n',
                  a="job", b="ns", lr=0.001, flag=True, none=None)[0]
    assert doc == {"x": "job-ns.svc", "y": "--lr=0.001", "z": "true/"}
    with pytest.raises(TemplateError, match="is a list"):
        render1("x: pre-{{ l }}\n", l=["a"])


def test_splice_and_merge():
    doc = render1("""\
        env:
          - name: FIXED
          - {{ *extra }}
          - {{ *nothing }}
        labels:
          <<: {{ more }}
          app: me
        """, extra=[{"name": "A"}, {"name": "B"}], nothing=None, more={"app": "overridden", "team": "x"})[0]
    assert doc["env"] == [{"name": "FIXED"}, {"name": "A"}, {"name": "B"}]
    assert doc["labels"] == {"team": "x", "app": "me"}
    with pytest.raises(TemplateError, match="only a list can be spliced"):
        render1("l:\n  - {{ *m }}\n", m={"a": 1})
    with pytest.raises(TemplateError, match="a splice must be a list item"):
        render1("x: {{ *l }}\n", l=[1])


def test_filters():
    doc = render1("""\
        a: {{ v | default("fallback") }}
        b: {{ l | join(",") }}
        c: {{ n | string }}
        d: {{ e | env }}
        e: {{ s | secret_env }}
        f: {{ p | container_ports }}
        g: {{ p | service_ports }}
        h: {{ t | toleration }}
        i: {{ x | toleration }}
        j: {{ v | default(other) }}
        """, v="", l=["x", "y"], n=5, e={"A": "1"}, s={"K": {"secret": "s", "key": "k"}},
        p=[{"name": None, "port": 80}], t="gpu:NoSchedule", x="", other="from-other")[0]
    assert doc["a"] == "fallback" and doc["b"] == "x,y" and doc["c"] == "5"
    assert doc["d"] == [{"name": "A", "value": "1"}]
    assert doc["e"] == [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
    assert doc["f"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert doc["g"] == [{"name": "port-80", "port": 80, "targetPort": 80, "protocol": "TCP"}]
    assert doc["h"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert doc["i"] == [] and doc["j"] == "from-other"
    with pytest.raises(TemplateError, match="env needs a map"):
        render1("d: {{ e | env }}\n", e="text")


def test_conditionals():
    tpl = """\
        kind: X
        {% if mode == "a" %}
        mode: A
        {% elif mode == 'b' %}
        mode: B
        {% else %}
        mode: other
        {% endif %}
        {% if not flag %}
        disabled: true
        {% endif %}
        {% if n != 0 %}n: {{ n }}{% endif %}
        """
    assert render1(tpl, mode="a", flag=True, n=0)[0] == {"kind": "X", "mode": "A"}
    assert render1(tpl, mode="b", flag=False, n=2)[0] == {"kind": "X", "mode": "B", "disabled": True, "n": 2}
    assert render1(tpl, mode="z", flag=[], n=None)[0]["mode"] == "other"


def test_nested_conditionals_and_whole_documents():
    tpl = """\
        {% if a %}
        kind: A
        {% if b %}
        b: "yes"
        {% endif %}
        ---
        {% endif %}
        kind: Always
        """
    assert render1(tpl, a=True, b=True) == [{"kind": "A", "b": "yes"}, {"kind": "Always"}]
    assert render1(tpl, a=False, b=True) == [{"kind": "Always"}]


def test_raw_blocks_are_left_alone():
    doc = render1('{% raw %}cmd: "echo {{inputs.parameters.lr}}"{% endraw %}\nx: {{ v }}\n', v=1)[0]
    assert doc == {"cmd": "echo {{inputs.parameters.lr}}", "x": 1}


def test_line_numbers_survive_conditionals():
    tpl = "a: 1\n{% if x %}\nb: 2\nc: 3\n{% endif %}\nd: [\n"
    with pytest.raises(TemplateError) as e:
        Template(tpl, file="f.yaml", first_line=10).render({"x": False})
    assert e.value.file == "f.yaml" and e.value.line in (15, 16)


@pytest.mark.parametrize(("source", "message"), [
    ("a: {{ x }", "not closed"),
    ("a: {% if x %}1", "not closed by"),
    ("{% endif %}", "without a matching"),
    ("{% else %}", "without a matching"),
    ("{% if x %}{% else %}{% else %}{% endif %}", "a second"),
    ("{% for x in y %}", "unknown tag"),
    ("a: {{ }}", "empty expression"),
    ("a: {{ x y }}", "expected `|`"),
    ("a: {{ x | default(1, 2) }}", "takes 0..1 arguments"),
    ("a: {{ x | join( }}", r"`\)` missing"),
    ("a: {{ x.y }}", "cannot read"),
    ("a: {{ __import__('os') }}", "expected `|`"),
    ("{% raw %}a", "not closed by"),
])
def test_template_syntax_errors(source, message):
    with pytest.raises(TemplateError, match=message):
        Template(source)


def test_names_and_duplicate_keys():
    t = Template("a: {{ x | default(y) }}\n{% if z == w %}{% endif %}")
    assert t.names == {"x", "y", "z", "w"}
    with pytest.raises(TemplateError, match="duplicate key"):
        render1("a: 1\n{% if x %}\na: 2\n{% endif %}\n", x=True)


# -- the library: user presets, broken files, live reload ----------------------------------------------

def write(path: Path, text: str) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def test_user_presets_override_and_broken_files_keep_their_last_version(tmp_path):
    lib = PresetLibrary(tmp_path)
    user = tmp_path / "mine.yaml"
    write(user, GOOD)
    event = lib.reload()
    assert event.added == ["tiny"] and lib.get("tiny").origin == "user"
    write(user, GOOD.replace("description: a tiny preset", "description: changed"))
    assert lib.reload().changed == ["tiny"] and lib.get("tiny").description == "changed"
    write(user, GOOD.replace("description: a tiny preset", "description: [broken"))
    event = lib.reload()
    assert event.errors and event.errors[0].file == str(user) and event.errors[0].line in (2, 3)
    assert lib.get("tiny").description == "changed"  # the last good version stays
    write(tmp_path / "override.yaml", GOOD.replace("name: tiny", "name: pytorch-train"))
    lib.reload()
    assert lib.get("pytorch-train").origin == "user"
    (tmp_path / "override.yaml").unlink()
    assert lib.reload().changed == ["pytorch-train"] and lib.get("pytorch-train").origin == "builtin"
    write(tmp_path / "dup.yaml", GOOD.replace("description: a tiny preset", "description: dup"))
    write(user, GOOD)
    lib.reload()
    assert any("already used" in e.message for e in lib.errors)
    with pytest.raises(KeyError, match="did you mean 'tiny'"):
        lib.get("tiyn")


def test_watch_reloads_live(tmp_path):
    lib = PresetLibrary(tmp_path / "presets")
    events = []
    got = threading.Event()

    def on_change(event):
        events.append(event)
        got.set()

    with lib.watch(on_change, debounce_ms=50) as watcher:
        assert watcher.ready.wait(10)
        write(lib.user_dir / "live.yaml", GOOD.replace("name: tiny", "name: live"))
        assert got.wait(10), "no reload after a new file"
        assert "live" in lib.names() and events[-1].added == ["live"]
        got.clear()
        write(lib.user_dir / "live.yaml", "name: live\ntemplates: [\n")
        assert got.wait(10), "no reload after a broken file"
        assert events[-1].errors and "live.yaml" in events[-1].errors[0].file
        assert "live" in lib.names()  # the last good version stays
    assert not watcher.alive


# -- images: Dockerfile and build context ------------------------------------------------------------

def test_dockerfile_and_build_context(tmp_path):
    from cockpit.launch.image import build_context, dockerfile_for, normalize_registry

    assert dockerfile_for("python:3.11", False).splitlines() == [
        "FROM python:3.11", "WORKDIR /workspace", "COPY code/ /workspace/"]
    with_req = dockerfile_for("python:3.11", True)
    assert "COPY requirements.txt" in with_req and "install --no-cache-dir -r" in with_req
    assert normalize_registry("https://gcr.io/proj/") == "gcr.io/proj"
    (tmp_path / "pkg").mkdir()
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "pkg" / "m.py").write_text("x = 1\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.pyc").write_bytes(b"\0")
    (tmp_path / "data.bin").write_bytes(b"\0" * 10)
    (tmp_path / ".dockerignore").write_text("*.bin\n")
    req = tmp_path / "requirements.txt"
    req.write_text("numpy\n")

    def context() -> bytes:
        buf = io.BytesIO()
        build_context(tmp_path, req, with_req, buf)
        return buf.getvalue()

    first = context()
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        names = tar.getnames()
    assert {"Dockerfile", "requirements.txt", "code/train.py", "code/pkg/m.py"} <= set(names)
    assert not any(".git" in n or "pycache" in n or n.endswith(".bin") for n in names)
    (tmp_path / "train.py").touch()
    assert context() == first  # same tree, same bytes: the build cache hits


# -- judging a workload's state ---------------------------------------------------------------------

def test_judge_workload_states():
    from cockpit.launch.apply import judge

    def cond(t, status="True", **kw):
        return {"type": t, "status": status, **kw}

    assert judge("Job", {"status": {"active": 1}})[:2] == (None, False)
    assert judge("Job", {"status": {"succeeded": 1, "conditions": [cond("SuccessCriteriaMet"), cond("Complete")]}})[:2] \
        == ("Succeeded", True)
    state, ok, msg = judge("Job", {"status": {"conditions": [cond("Failed", reason="BackoffLimitExceeded",
                                                                   message="Job has reached the backoff limit")]}})
    assert (state, ok) == ("Failed", False) and "BackoffLimitExceeded" in msg
    assert judge("Workflow", {"status": {"phase": "Running", "progress": "1/3"}})[2] == "phase=Running progress=1/3"
    assert judge("Workflow", {"status": {"phase": "Error", "message": "boom"}}) == ("Failed", False, "boom")
    assert judge("Experiment", {"status": {"conditions": [cond("Created"), cond("Succeeded")]}})[:2] == (
        "Succeeded", True)
    up = {"spec": {"restartPolicy": "Always"}, "status": {"phase": "Running", "conditions": [cond("Ready")]}}
    assert judge("Pod", up)[:2] == ("Running", True)
    stuck = {"spec": {}, "status": {"phase": "Pending", "conditions": [
        cond("PodScheduled", "False", reason="Unschedulable", message="0/7 nodes are available")]}}
    assert judge("Pod", stuck) == (None, False, "Pending: Unschedulable 0/7 nodes are available")
    ready = {"metadata": {"generation": 2}, "spec": {"replicas": 1},
             "status": {"observedGeneration": 2, "readyReplicas": 1}}
    assert judge("Deployment", ready)[:2] == ("Running", True)


def test_api_error_text_reads_the_status_body():
    from kubernetes.client.rest import ApiException

    from cockpit.launch.apply import _api_error_text

    e = ApiException(status=422, reason="Unprocessable Entity")
    e.body = json.dumps({"kind": "Status", "message": 'Job.batch "x" is invalid', "details": {"causes": [
        {"field": "spec.template.spec.containers[0].image", "message": "Required value"}]}})
    assert _api_error_text(e) == ('Job.batch "x" is invalid; spec.template.spec.containers[0].image: '
                                  "Required value")
    assert _api_error_text(ApiException(status=503, reason="Service Unavailable")) == "HTTP 503 Service Unavailable"


# -- the command line, before any cluster is involved -------------------------------------------------

def test_launch_refuses_bad_arguments_before_touching_anything(capsys, tmp_path):
    from cockpit.launch.cli import launch_main

    assert launch_main(["no-such-preset"]) == 1
    assert "no preset named 'no-such-preset'" in capsys.readouterr().err
    assert launch_main(["pytorch-train", "--set", "gpus=many", "--kubeconfig", str(tmp_path / "none")]) == 1
    assert "gpus: expected an integer, got 'many'" in capsys.readouterr().err
    assert launch_main(["pytorch-train", "--from-dir", str(tmp_path)]) == 1
    assert "--from-dir needs --registry" in capsys.readouterr().err
    assert launch_main(["tensorboard", "--", "--lr", "1"]) == 1
    assert "takes no script arguments" in capsys.readouterr().err
    assert launch_main(["pytorch-train", "--kubeconfig", str(tmp_path / "none")]) == 1
    assert "kubeconfig" in capsys.readouterr().err


def test_presets_show_renders(capsys):
    from cockpit.launch.cli import presets_main

    assert presets_main(["show", "pytorch-train", "--render", "--set", "name=x", "-n", "team"]) == 0
    out = capsys.readouterr().out
    assert "gpu_product" in out and "PARAMETER" in out
    docs = list(yaml.safe_load_all(out[out.index("---"):]))
    assert docs[0]["kind"] == "Job" and docs[0]["metadata"] == {**docs[0]["metadata"], "name": "x",
                                                                 "namespace": "team"}
    assert presets_main(["list"]) == 0
    assert "katib-random-search" in capsys.readouterr().out


def test_schema_file_uses_only_supported_keywords():
    from cockpit.launch.schema import check_supported, load_schema

    schema = load_schema()
    check_supported(schema)
    assert set(schema["properties"]) == {"name", "description", "creates", "parameters", "templates"}
    with pytest.raises(ValueError, match="unsupported schema keyword"):
        check_supported({"oneOf": []})


def test_launch_package_never_imports_textual():
    code = ("import sys; import cockpit.launch, cockpit.launch.cli, cockpit.launch.apply, cockpit.launch.image, "
            "cockpit.launch.library; sys.exit(1 if 'textual' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO).returncode == 0


def test_each_schema_error_is_on_its_own_line_with_its_field():
    text = GOOD.replace("templates:\n", "creates: [job, Pod, 3]\ntemplates:\n", 1).replace(
        "    default: 1\n", "    default: 1\n    enum: []\n    min: {a: 1}\n", 1)
    preset, errors = validate_preset_text(text, "tiny.yaml")
    assert preset is None
    assert [(e.line, e.field) for e in errors] == [
        (7, "parameters.gpus.enum"), (8, "parameters.gpus.min"), (9, "creates[0]"), (9, "creates[2]")]
    assert "needs at least 1 item" in errors[0].message
    assert "expected a number or a string, got a mapping" in errors[1].message
    assert "does not match" in errors[2].message and "got an integer (3)" in errors[3].message


def test_an_unreadable_value_is_one_error_naming_its_field():
    _, errors = validate_preset_text(GOOD.replace("name: tiny\n", "name: !!int\n", 1), "tiny.yaml")
    assert [(e.line, e.field) for e in errors] == [(1, "name")] and "cannot read this value" in errors[0].message


def test_a_badly_named_parameter_is_reported_once():
    _, errors = validate_preset_text(GOOD.replace("  gpus:\n", "  Gpus:\n", 1).replace(
        "    type: integer", "    type: int", 1), "tiny.yaml")
    assert [(e.line, e.field) for e in errors] == [(4, "parameters.Gpus")] and "bad name" in errors[0].message


def test_alias_loops_and_bombs_stop_before_the_schema_check():
    bomb = ["name: x", "templates: [a]", "description: &l0 [ha, ha, ha, ha, ha, ha, ha, ha, ha]"]
    bomb += [f"x{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 7)]  # 9**6 values
    e = error_of("\n".join(bomb) + "\n")
    assert e.line == 8 and "more than 100,000 values" in e.message and e.message.startswith("bad YAML")
    e = error_of("name: x\ntemplates: &t [a, *t]\n")
    assert e.line == 2 and "loop" in e.message
