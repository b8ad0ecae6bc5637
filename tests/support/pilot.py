"""Waiting in Pilot tests: poll a condition while the app runs, never a fixed sleep."""

from __future__ import annotations

import time


async def until(pilot, predicate, timeout: float = 30.0, what: str = "condition", step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await pilot.pause(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {predicate()!r}")
