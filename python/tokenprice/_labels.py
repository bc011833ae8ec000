"""Labels from the application's code: `with tokenprice.labels(tenant="acme", feature="search"):`.

They live in a `contextvars.ContextVar`, so they follow asyncio tasks (a task copies the context it was created
in) and are undone when the block ends. Threads and executors do not inherit a context: `labels.wrap(fn)` carries
the labels of the moment it is called into `fn`, wherever `fn` runs.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, ParamSpec, TypeVar

LabelValue = str | int | float | bool

_EMPTY: Mapping[str, LabelValue] = MappingProxyType({})
_CURRENT: contextvars.ContextVar[Mapping[str, LabelValue]] = contextvars.ContextVar("tokenprice_labels", default=_EMPTY)

P = ParamSpec("P")
R = TypeVar("R")


def _checked(given: Mapping[str, Any]) -> dict[str, LabelValue | None]:
    out: dict[str, LabelValue | None] = {}
    for name, value in given.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            raise TypeError(
                f"label {name}={value!r}: a label is a str, int, float or bool (None removes it); "
                f"got {type(value).__name__}"
            )
        out[name] = value
    return out


class Labels:
    """The labels in force: call it as a context manager to add some, `current()` to read them, `wrap(fn)` to
    carry them into a thread or an executor.

    Nested blocks merge: an inner block adds labels and overrides those of the same name; `None` removes one.
    """

    @contextmanager
    def __call__(self, **labels: LabelValue | None) -> Iterator[Mapping[str, LabelValue]]:
        merged = dict(_CURRENT.get())
        for name, value in _checked(labels).items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        frozen = MappingProxyType(merged)
        token = _CURRENT.set(frozen)
        try:
            yield frozen
        finally:
            _CURRENT.reset(token)

    def current(self) -> dict[str, LabelValue]:
        """The labels in force here, as a new dict."""
        return dict(_CURRENT.get())

    def wrap(self, fn: Callable[P, R]) -> Callable[P, R]:
        """`fn` run with the labels in force now, whichever thread calls it (`Thread(target=labels.wrap(f))`,
        `executor.submit(labels.wrap(f), ...)`, `loop.run_in_executor(None, labels.wrap(f))`)."""
        captured = _CURRENT.get()

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            token = _CURRENT.set(captured)
            try:
                return fn(*args, **kwargs)
            finally:
                _CURRENT.reset(token)

        return run


labels = Labels()


def current_labels() -> Mapping[str, LabelValue]:
    """The labels in force (read-only; no copy)."""
    return _CURRENT.get()
