"""`count_tokens`: one entry point for a string, a list of strings, or any Arrow-compatible string column."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, overload

from tokenprice import _core
from tokenprice._columns import count_column, is_column
from tokenprice._core import Encoding


class ApproximationWarning(UserWarning):
    """Counts were estimated with another tokenizer because the model's own is not public."""


class ApproximateCount(int):
    """A token count estimated with another tokenizer (the model's own is not public).

    It is an ``int`` (so arithmetic works) that says what it is: ``approximate`` is True, ``model`` names the model
    asked about and ``encoding`` the encoding used to estimate.
    """

    approximate = True
    model: str
    encoding: str

    def __new__(cls, value: int, *, model: str, encoding: str) -> ApproximateCount:
        obj = super().__new__(cls, value)
        obj.model = model
        obj.encoding = encoding
        return obj

    def __repr__(self) -> str:
        return f"ApproximateCount({int(self)}, model={self.model!r}, encoding={self.encoding!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_approximate, (int(self), self.model, self.encoding))


def _restore_approximate(value: int, model: str, encoding: str) -> ApproximateCount:
    return ApproximateCount(value, model=model, encoding=encoding)


# (model, approximate) → what _resolve found: a per-request count_tokens(str, model=...) then costs one dict lookup
# instead of two model-name resolutions. Only successes are kept, and the size is bounded.
_RESOLVED: dict[tuple[str, bool], tuple[Encoding, str | None]] = {}


def _resolve(model: str | None, encoding: str | Encoding | None, approximate: bool) -> tuple[Encoding, str | None]:
    """The encoding to count with, and the model name when the count is an approximation."""
    if encoding is None and isinstance(model, str):
        found = _RESOLVED.get((model, approximate))
        if found is None:
            found = _resolve_model(model, approximate)
            if len(_RESOLVED) >= 4096:
                _RESOLVED.clear()
            _RESOLVED[(model, approximate)] = found
        return found
    if model is not None and encoding is not None:
        raise _core.InvalidArgumentError("pass model= or encoding=, not both")
    if encoding is not None:
        if isinstance(encoding, Encoding):
            return encoding, None
        return _core.get_encoding(encoding), None  # raises InvalidTypeError for a non-str
    if model is None:
        raise _core.InvalidArgumentError("pass model= (e.g. 'gpt-4o') or encoding= (e.g. 'o200k_base')")
    return _resolve_model(model, approximate)


def _resolve_model(model: str, approximate: bool) -> tuple[Encoding, str | None]:
    known = _core.lookup_model(model)
    if known is not None and known[0] == "not_public" and approximate:
        return _core.get_encoding(_core.APPROXIMATION_ENCODING), model
    # Raises UnknownModelError / TokenizerNotPublicError with the details.
    return _core.encoding_for_model(model), None


@overload
def count_tokens(
    data: str,
    model: str | None = ...,
    encoding: str | Encoding | None = ...,
    *,
    allowed_special: str | Iterable[str] = ...,
    approximate: bool = ...,
    num_threads: int | None = ...,
) -> int: ...


@overload
def count_tokens(
    data: list[str | None] | tuple[str | None, ...],
    model: str | None = ...,
    encoding: str | Encoding | None = ...,
    *,
    allowed_special: str | Iterable[str] = ...,
    approximate: bool = ...,
    num_threads: int | None = ...,
) -> list[int | None]: ...


@overload
def count_tokens(
    data: Any,
    model: str | None = ...,
    encoding: str | Encoding | None = ...,
    *,
    allowed_special: str | Iterable[str] = ...,
    approximate: bool = ...,
    num_threads: int | None = ...,
) -> Any: ...


def count_tokens(
    data: Any,
    model: str | None = None,
    encoding: str | Encoding | None = None,
    *,
    allowed_special: str | Iterable[str] = frozenset(),
    approximate: bool = False,
    num_threads: int | None = None,
) -> Any:
    """Counts tokens of ``data`` with the tokenizer of ``model`` (or the named ``encoding``).

    ``data`` may be a ``str`` (returns ``int``), a ``list``/``tuple`` of ``str | None`` (returns ``list``, None
    stays None), or any Arrow-compatible string column — pyarrow Array/ChunkedArray, polars Series, pandas Series —
    which returns a column of the same kind (pandas keeps its index; nulls stay null).

    Text that looks like a special token (``<|endoftext|>``) counts as ordinary text unless ``allowed_special``
    names it (or is ``"all"``). Batches run on every core, or ``num_threads``.

    Models whose tokenizer is not public (current Claude and Gemini) raise ``TokenizerNotPublicError`` unless
    ``approximate=True``; then counts come from ``APPROXIMATION_ENCODING`` and are marked: ``ApproximateCount``
    values for str and list input, an ``ApproximationWarning`` (and ``Series.attrs`` for pandas) for columns.
    """
    enc, approximated_model = _resolve(model, encoding, approximate)
    if isinstance(data, str):
        n = enc.count(data, allowed_special=allowed_special, num_threads=num_threads)
        if approximated_model is not None:
            return ApproximateCount(n, model=approximated_model, encoding=enc.name)
        return n
    if isinstance(data, (list, tuple)):
        counts = enc.count_batch(data, allowed_special=allowed_special, num_threads=num_threads)
        if approximated_model is not None:
            return [
                None if c is None else ApproximateCount(c, model=approximated_model, encoding=enc.name) for c in counts
            ]
        return counts
    if is_column(data):
        result = count_column(enc, data, allowed_special=allowed_special, num_threads=num_threads)
        if approximated_model is not None:
            warnings.warn(
                f"token counts for {approximated_model!r} are approximate: its tokenizer is not public, "
                f"so they were counted with {enc.name}",
                ApproximationWarning,
                stacklevel=2,
            )
            attrs = getattr(result, "attrs", None)
            if isinstance(attrs, dict):
                attrs["tokenprice.approximate"] = {"model": approximated_model, "encoding": enc.name}
        return result
    raise _core.InvalidTypeError(
        f"count_tokens takes a str, a list of str, or an Arrow-compatible string column "
        f"(pyarrow, polars, pandas); got {type(data).__name__}"
    )


def count_message_tokens(
    messages: Iterable[Any], model: str, tools: Iterable[Any] | None = None, *, approximate: bool = False
) -> int:
    """Prompt tokens of a chat request (``messages`` and ``tools``) by OpenAI's published rules: OpenAI's message
    shape, Anthropic's content blocks (``system`` as a first message, ``tool_use`` / ``tool_result``, images with
    ``width`` / ``height``) or Gemini's parts (``{"role": ..., "parts": [...]}``).

    For a model whose tokenizer is not public (Claude, Gemini) this raises ``TokenizerNotPublicError`` unless
    ``approximate=True``; then the count comes from ``APPROXIMATION_ENCODING`` and is an ``ApproximateCount``.
    """
    n = _core.count_message_tokens(messages, model, tools, approximate)
    if approximate:
        known = _core.lookup_model(model)
        if known is not None and known[0] == "not_public":
            return ApproximateCount(n, model=model, encoding=_core.APPROXIMATION_ENCODING)
    return n
