"""A bounded memo for the per-request hot path."""

from __future__ import annotations

from typing import TypeVar

__all__ = ["Memo"]

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V]):
    """A dict that forgets its oldest entry when it is full.

    Reads are plain ``dict.get`` calls (no bookkeeping on a hit, unlike an LRU): the memos
    that every request reads are checked in nanoseconds, and their entries carry their own
    expiry, so evicting the oldest first is what an LRU would mostly do anyway.
    """

    __slots__ = ("maxsize",)

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        super().__init__()
        self.maxsize = maxsize

    def put(self, key: K, value: V) -> None:
        if key not in self and len(self) >= self.maxsize:
            del self[next(iter(self))]
        self[key] = value
