"""A small generic name → object registry with close-match suggestions (as timm does for models)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from robaudit.errors import RobauditError

T = TypeVar("T")


def suggest(name: str, choices: list[str], n: int = 3) -> str:
    """Return ' Did you mean: a, b?' for close matches of ``name`` in ``choices``, else ''."""
    close = difflib.get_close_matches(name, choices, n=n, cutoff=0.5)
    return f" Did you mean: {', '.join(close)}?" if close else ""


class Registry(Generic[T]):
    """Maps names to registered objects (classes or factories) of one kind, e.g. 'model source'."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name``."""

        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    def unregister(self, name: str) -> T:
        """Remove and return ``name`` (for plugins and tests that register temporarily)."""
        return self._items.pop(name)

    def get(self, name: str) -> T:
        """Return the object named ``name``; unknown names raise a RobauditError with suggestions."""
        try:
            return self._items[name]
        except KeyError:
            valid = ", ".join(sorted(self.names()))
            raise RobauditError(
                f"unknown {self.kind} {name!r}.{suggest(name, self.names())} Valid: {valid}."
            ) from None

    def names(self) -> list[str]:
        """Registered names in registration order (the order a suite runs and reports them)."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
