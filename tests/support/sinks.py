"""A sink that records what an informer reports, for tests to read (the consumer, not the
cluster: the informer under test talks to the real API server)."""

from __future__ import annotations

import threading

from cockpit.kube.informer import Sink


class Recorder(Sink):
    """Everything an informer hands its sink, in order where the order matters."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items: dict[str, object] = {}
        self.defs: tuple[dict, ...] = ()
        self.states: list[str] = []
        self.deleted: list[str] = []
        self.pages: list[tuple[int, int, int | None, int]] = []  # (items, arrived, of about, resets before)
        self.resets = 0

    def upsert(self, key, item):
        with self.lock:
            self.items[key] = item

    def delete(self, key):
        with self.lock:
            self.items.pop(key, None)
            self.deleted.append(key)

    def reset(self, items):
        with self.lock:
            self.items = dict(items)
            self.resets += 1

    def page(self, items, loaded, total):
        with self.lock:
            self.items.update(items)
            self.pages.append((len(items), loaded, total, self.resets))

    def columns(self, definitions):
        self.defs = definitions

    def state(self, state, detail="", retry_in=0.0):
        self.states.append(state)

    def get(self, key):
        with self.lock:
            return self.items.get(key)
