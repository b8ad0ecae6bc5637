"""A broken kubeconfig is a message naming the file and the context, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from cockpit.kube.connection import ConnectionProblem, Kubeconfig, make_api_client


def good(contexts=("lab",), user: dict | None = None) -> dict:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": contexts[0],
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": user or {"token": "x"}}],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in contexts],
    }


def write(tmp_path: Path, content: str | bytes | dict, name: str = "config") -> Path:
    path = tmp_path / name
    if isinstance(content, dict):
        content = yaml.safe_dump(content)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


BROKEN = {
    "contexts-not-a-list": ("apiVersion: v1\ncontexts: 5\n", "contexts: expected a list of contexts, got a number (line 2)", ""),
    "context-not-a-mapping": ("contexts:\n- name: lab\n  context: oops\n", "context: expected a mapping", "lab"),
    "name-not-a-string": ("contexts:\n- name: [a]\n  context: {cluster: c}\n", "contexts[0].name: expected a string", ""),
    "entry-not-a-mapping": ("contexts: [7]\n", "contexts[0]: expected a mapping, got a number", ""),
    "users-not-a-list": ("users: 3\ncontexts: []\n", "users: expected a list, got a number (line 1)", ""),
    "clusters-not-a-list": ("clusters: {a: 1}\n", "clusters: expected a list, got a mapping", ""),
    "namespace-not-a-string": ("contexts:\n- name: lab\n  context: {namespace: [1]}\n", "context.namespace", "lab"),
    "current-context-not-a-string": ("current-context: [x]\n", "current-context: expected a context name", ""),
    "not-a-mapping": ("- a\n- b\n", "kubeconfig is not a mapping", ""),
    "yaml-syntax": ("contexts: [unterminated\n", "cannot read kubeconfig, line 2", ""),
    "alias-loop": ("contexts: &a [*a]\n", "loop", ""),
}


@pytest.mark.parametrize(("text", "words", "context"), BROKEN.values(), ids=BROKEN)
def test_broken_entries_are_problems_naming_file_and_context(tmp_path, text, words, context):
    path = write(tmp_path, text)
    kc = Kubeconfig.load(path)
    assert kc.problems, kc
    problem = kc.problems[0]
    assert words in problem.message
    assert problem.file == str(path) and f"file {path}" in str(problem)
    assert problem.context == context
    if context:
        assert f"context {context}" in str(problem)


def test_good_entries_beside_a_broken_one_are_kept(tmp_path):
    doc = good(("lab", "prod"))
    doc["contexts"].insert(1, {"name": "half", "context": "oops"})
    kc = Kubeconfig.load(write(tmp_path, doc))
    assert list(kc.contexts) == ["lab", "prod"] and kc.current == "lab"
    assert [p.context for p in kc.problems] == ["half"]


def test_non_utf8_bytes_name_the_file_and_line(tmp_path):
    path = write(tmp_path, b"apiVersion: v1\nkind: Config\ncurrent-context: caf\xe9\n")
    kc = Kubeconfig.load(path)
    assert [str(p) for p in kc.problems] == [
        f"cannot read kubeconfig, line 3: not UTF-8 text (byte 0xe9) (file {path})"]


def test_missing_file(tmp_path):
    kc = Kubeconfig.load(tmp_path / "nope")
    assert [str(p) for p in kc.problems] == [f"kubeconfig file not found (file {tmp_path / 'nope'})"]


def test_missing_file_in_a_list_is_skipped_like_kubectl(tmp_path):
    present = write(tmp_path, good(("lab",)))
    kc = Kubeconfig.load(None, env={"KUBECONFIG": os.pathsep.join([str(tmp_path / "gone"), str(present)])})
    assert list(kc.contexts) == ["lab"] and kc.problems == []


def test_unreadable_file(tmp_path):
    path = tmp_path / "a-folder"  # reading it fails even as root
    path.mkdir()
    kc = Kubeconfig.load(path)
    assert [p.file for p in kc.problems] == [str(path)]
    assert kc.problems[0].message.startswith("cannot read kubeconfig: ")


def failing_plugin(tmp_path: Path) -> Path:
    """A credential plugin that fails the way a cloud CLI does, with escapes in its stderr."""
    script = tmp_path / "get-token"
    script.write_text("#!/bin/sh\n"
                      "printf 'token expired\\033]0;owned\\007 for \\033[31malice\\033[0m\\n' >&2\n"
                      "printf 'run: cloud login\\n' >&2\n"
                      "exit 3\n")
    script.chmod(0o755)
    return script


def test_a_failing_exec_plugin_is_a_problem_with_its_stderr_cleaned(tmp_path):
    plugin = failing_plugin(tmp_path)
    path = write(tmp_path, good(("lab",), {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                                     "command": str(plugin)}}))
    problem = make_api_client(Kubeconfig.load(path), "lab")
    assert isinstance(problem, ConnectionProblem), problem
    assert problem.file == str(path) and problem.context == "lab"
    text = str(problem)
    assert "process returned 3" in text and "token expired for alice" in text and "run: cloud login" in text
    assert "\x1b" not in text and "\x07" not in text and "owned" not in text and "\n" not in text


def test_a_missing_exec_plugin_is_a_problem(tmp_path):
    path = write(tmp_path, good(("lab",), {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                                     "command": str(tmp_path / "no-such-plugin")}}))
    problem = make_api_client(Kubeconfig.load(path), "lab")
    assert isinstance(problem, ConnectionProblem) and problem.context == "lab" and problem.file == str(path)


@pytest.mark.parametrize("users", ["users: 3\n", "users: [{name: u, user: oops}]\n"])
def test_broken_users_give_a_problem_when_connecting(tmp_path, users):
    text = yaml.safe_dump({k: v for k, v in good().items() if k != "users"}) + users
    problem = make_api_client(Kubeconfig.load(write(tmp_path, text)), "lab")
    assert isinstance(problem, ConnectionProblem) and problem.context == "lab"


def test_problem_text_is_cleaned():
    p = ConnectionProblem("bad \x1b]52;c;ZXZpbA==\x07thing\u202e", "/tmp/\x1b[2Jk", "ctx\u200b")
    assert str(p) == "bad thing (file /tmp/k, context ctx)"


# --- which client: the cockpit's own (cockpit.kube.rest) or the official one --------------------

def test_tokens_and_relative_files_get_the_cockpits_own_client(tmp_path):
    from cockpit.kube.rest import RestClient

    (tmp_path / "token").write_text("from-a-file\n")
    api = make_api_client(Kubeconfig.load(write(tmp_path, good(("lab",), {"tokenFile": "token"}))), "lab")
    assert isinstance(api, RestClient)
    assert api.credentials.authorization() == "Bearer from-a-file"  # relative to the kubeconfig's folder
    assert api.configuration.host == "https://127.0.0.1:1"
    basic = make_api_client(Kubeconfig.load(write(tmp_path, good(("lab",), {"username": "a", "password": "b"}))),
                            "lab")
    assert basic.credentials.authorization() == "Basic YTpi"


@pytest.mark.parametrize("change", ["auth-provider", "proxy-url"])
def test_what_only_the_official_client_reads_gets_the_official_client(tmp_path, change):
    from kubernetes.client import ApiClient

    doc = good()
    if change == "auth-provider":
        doc["users"][0]["user"] = {"auth-provider": {"name": "oidc", "config": {"id-token": "t", "client-id": "c",
                                                                               "idp-issuer-url": "https://x"}}}
    else:
        doc["clusters"][0]["cluster"]["proxy-url"] = "http://127.0.0.1:3"
    api = make_api_client(Kubeconfig.load(write(tmp_path, doc)), "lab")
    assert isinstance(api, ApiClient), api


def test_bad_certificate_data_is_a_problem_naming_the_field(tmp_path):
    problem = make_api_client(Kubeconfig.load(write(tmp_path, good(("lab",), {"client-certificate-data": "%%%",
                                                                               "client-key-data": "%%%"}))), "lab")
    assert isinstance(problem, ConnectionProblem) and "client-certificate" in str(problem)
