"""Kubernetes resource quantities ("100m", "2Gi", "1e3") as floats, and back for display."""

from __future__ import annotations

import re

__all__ = ["fmt_bytes", "fmt_cpu", "parse_quantity"]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0,
    "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
}  # fmt: skip
# "1E3" is an exponent, "1E" is exa: the exponent form must be tried first.
_QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE]?)")

_MISSING = object()


def parse_quantity(s: object, default: float | object = _MISSING) -> float:
    """Parse a quantity; numbers pass through. Raises ValueError unless `default` is given."""
    if isinstance(s, bool):
        s = str(s)
    if isinstance(s, (int, float)):
        return float(s)
    m = _QUANTITY.fullmatch(str(s).strip())
    if m is None:
        if default is _MISSING:
            raise ValueError(f"invalid quantity: {s!r}")
        return default  # type: ignore[return-value]
    number, suffix = float(m.group(1)), m.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * 10.0 ** int(suffix[1:])
    return number * _DECIMAL[suffix]


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
