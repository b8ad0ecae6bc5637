"""Kubernetes resource quantities ("100m", "2Gi", "1e3") as floats, and back for display.

The arithmetic is `kubernetes.utils.parse_quantity`'s, in Decimal: "7n" is 7e-09, not the
7.000000000000001e-09 a float product gives. Its parser is looser than the API server's (it takes
"1K", "nan", "1_0", "1e3k"), so the grammar below decides what is a quantity first.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["fmt_bytes", "fmt_cpu", "parse_quantity"]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
# "1E3" is an exponent, "1E" is exa: the exponent form must be tried first.
_QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE]?)")

_MISSING = object()


def parse_quantity(s: object, default: float | object = _MISSING) -> float:
    """Parse a quantity; numbers pass through. Raises ValueError unless `default` is given."""
    if isinstance(s, bool):
        s = str(s)
    if isinstance(s, (int, float)):
        return float(s)
    value = _parse(str(s).strip())
    if value is None:
        if default is _MISSING:
            raise ValueError(f"invalid quantity: {s!r}")
        return default  # type: ignore[return-value]
    return value


@lru_cache(maxsize=4096)  # 10,000 pods ask for a handful of distinct values ("1", "8Gi", "500m")
def _parse(text: str) -> float | None:
    if _QUANTITY.fullmatch(text) is None:
        return None
    return float(_library_parser()(text))


@lru_cache(maxsize=1)
def _library_parser():
    """`kubernetes.utils.parse_quantity`, without importing the `kubernetes` package: its
    __init__ imports the whole generated client (35 MB, most of a second), and the cockpit talks
    to the API server without it (cockpit.kube.rest). The module itself needs only `decimal`."""
    import sys

    loaded = sys.modules.get("kubernetes.utils.quantity")
    if loaded is not None:
        return loaded.parse_quantity
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("kubernetes")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the kubernetes package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "utils" / "quantity.py"
    module_spec = importlib.util.spec_from_file_location("cockpit.kube._k8s_quantity", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.parse_quantity


def _short(x: float) -> str:
    text = f"{x:.1f}"
    return text.removesuffix(".0")


def fmt_bytes(n: float) -> str:
    """Bytes with a binary suffix: 42949672960 -> "40Gi", 1610612736 -> "1.5Gi"."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY[suffix]
        if abs(n) >= unit:
            return _short(n / unit) + suffix
    return _short(n)


def fmt_cpu(n: float) -> str:
    """Cores: whole numbers as "8", fractions in millicores as "1500m"."""
    if float(n).is_integer():
        return str(int(n))
    return f"{round(n * 1000)}m"
