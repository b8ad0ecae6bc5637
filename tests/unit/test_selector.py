"""Label selectors against kubectl's semantics (k8s.io/apimachinery/pkg/labels)."""

from __future__ import annotations

import re

import pytest

from cockpit.kube import selector
from cockpit.kube.model import Row
from cockpit.kube.store import FilterError, RowStore, parse_filter

VISION = {"team": "vision", "tier": "gpu"}
NLP = {"team": "nlp"}
OPS = {"team": "ops", "tier": ""}
NONE: dict[str, str] = {}
ALL = {"vision": VISION, "nlp": NLP, "ops": OPS, "none": NONE}


@pytest.mark.parametrize("text, expected", [
    ("team", {"vision", "nlp", "ops"}),
    ("!team", {"none"}),
    ("team=vision", {"vision"}),
    ("team==vision", {"vision"}),
    ("team!=vision", {"nlp", "ops", "none"}),  # != also matches objects without the label
    ("team in (vision,nlp)", {"vision", "nlp"}),
    ("team in ( vision , nlp )", {"vision", "nlp"}),
    ("team notin (vision,nlp)", {"ops", "none"}),  # notin too
    ("team in (vision,nlp),tier", {"vision"}),
    ("team,!tier", {"nlp"}),
    ("tier=", {"ops"}),  # an empty value is a value
    ("tier in (gpu,)", {"vision", "ops"}),
    ("team=vision,team=nlp", set()),
    ("  team = nlp  ", {"nlp"}),
])
def test_selector_matches_what_kubectl_selects(text, expected):
    sel = selector.parse(text)
    assert {name for name, labels in ALL.items() if sel.matches(labels)} == expected


def test_greater_and_less_compare_integers():
    sel = selector.parse("gpus>2,gpus<8")
    assert sel.matches({"gpus": "4"})
    assert not sel.matches({"gpus": "8"}) and not sel.matches({"gpus": "many"}) and not sel.matches({})


@pytest.mark.parametrize("text, words", [
    ("team in (vision", "unclosed"),
    ("team in vision", "expected '('"),
    ("team in ()", "at least one value"),
    ("=vision", "expected a label key"),
    ("team=a=b", "unexpected '='"),
    ("team=bad value!", "unexpected"),
    ("-bad=x", "invalid label key"),
    ("team=-x", "invalid label value"),
    ("Bad_Prefix/x", "prefix"),
    ("", "empty"),
    ("gpus>many", "whole number"),
    ("team,", "expected a label key"),
])
def test_selectors_kubectl_refuses_say_why(text, words):
    with pytest.raises(selector.SelectorError, match=re.escape(words)):
        selector.parse(text)


def test_key_with_dns_prefix():
    assert selector.parse("katib.kubeflow.org/experiment=exp-1").matches({"katib.kubeflow.org/experiment": "exp-1"})


def _rows():
    return [Row(key=n, cells=(n, "Running"), labels=labels) for n, labels in ALL.items()]


def test_filter_takes_selector_then_free_text():
    store = RowStore(_rows())
    store.set_filter("-l team in (vision,nlp) nlp")
    assert store.view() == ["nlp"] and store.filter_error == ""
    store.set_filter("-lteam=ops")
    assert store.view() == ["ops"]
    store.set_filter("vis -l team")
    assert store.view() == ["vision"]


def test_invalid_filter_says_why_instead_of_no_match():
    store = RowStore(_rows())
    store.set_filter("[")  # matched as plain text; nothing holds "[", and the note says why
    assert store.view() == [] and "invalid regex" in store.filter_error
    store.set_filter("-l team in (vision")
    assert store.view() == [] and "invalid label selector" in store.filter_error and "unclosed" in store.filter_error
    store.set_filter("")
    assert len(store.view()) == 4 and store.filter_error == ""
    with pytest.raises(FilterError):
        parse_filter("-l team notin")
