"""Every path the cockpit reads or writes, in one place (XDG base directories)."""

from __future__ import annotations

import os
from pathlib import Path

APP = "gpu-cockpit"


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / default


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / APP


def cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache") / APP


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / APP


def config_file() -> Path:
    return Path(os.environ["COCKPIT_CONFIG"]) if os.environ.get("COCKPIT_CONFIG") else config_dir() / "config.yaml"


def user_themes_dir() -> Path:
    return config_dir() / "themes"


def user_presets_dir() -> Path:
    return config_dir() / "presets"


def demo_dir() -> Path:
    """Where the running demo cluster keeps its kubeconfig, logs and state."""
    return Path(os.environ["COCKPIT_DEMO_DIR"]) if os.environ.get("COCKPIT_DEMO_DIR") else state_dir() / "demo"


def binaries_cache() -> Path:
    """Per-version cache of the Go-built cluster binaries."""
    return Path(os.environ["COCKPIT_BIN_CACHE"]) if os.environ.get("COCKPIT_BIN_CACHE") else cache_dir()
