"""A small memo shared by every session of the server.

When a class opens the same link, every session needs the same charts and diagnoses.
The first session computes them; the others, even those asking at the same moment,
wait for that one result instead of all computing it at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class SharedMemo(Generic[Value]):
    """Bounded, thread-safe, computes each key once (least recently used keys go first)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[Hashable, Value] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._values:  # computed by whoever held key_lock before us
                    return self._values[key]
            value = compute()
            with self._lock:
                self._values[key] = value
                self._computing.pop(key, None)
                while len(self._values) > self._size:
                    self._values.popitem(last=False)
            return value
