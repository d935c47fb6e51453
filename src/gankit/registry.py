"""A tiny name -> object registry: add a loss or a model by writing one class and registering it."""
from __future__ import annotations

import importlib
from typing import Callable, Generic, Iterable, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names (as used in configs and on the command line) to classes or builders."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}  # name -> module that registers it when imported

    def lazy(self, names: Iterable[str], module: str) -> None:
        """Names that ``module`` registers when imported: listed now, imported on first lookup
        (so that ``import gankit`` stays light and optional parts load when used)."""
        for name in names:
            self._lazy[name] = module

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise KeyError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            self._lazy.pop(name, None)
            return obj

        return deco

    def get(self, name: str) -> T:
        if name not in self._items and name in self._lazy:
            importlib.import_module(self._lazy[name])
        try:
            return self._items[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted({*self._items, *self._lazy})

    def __contains__(self, name: str) -> bool:
        return name in self._items or name in self._lazy
