"""Credentials that are never shown: an API token, a database URL's password, an object store's keys.

A :class:`Secret` holds one credential. Its ``str`` and ``repr`` show ``***`` and where it came from, never the
value, so an error message, a log line, a report or a traceback that formats it leaks nothing; the code that sends
it calls :meth:`Secret.reveal`. :func:`secret` reads one from a value, an environment variable or a file (one of
the three). Text made elsewhere (an HTTP library's exception, a database driver's message, a URL) is cleaned with
:func:`redact` and :func:`redact_url` before tokenprice shows it, and :func:`redacted_error` turns a foreign
exception into tokenprice's own with the message cleaned and the original (whose arguments may hold the value)
dropped from the chain.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

from tokenprice import _core

MASK = "***"

# Query parameters whose values are credentials (presigned URLs, SAS tokens, API keys in the query).
_SECRET_PARAMS = re.compile(
    r"(?i)([?&](?:[a-z0-9_.-]*(?:token|key|secret|signature|password|passwd|credential|sig)[a-z0-9_.-]*)=)([^&#]*)"
)


class Secret:
    """One credential: shown as ``***``, given to the code that sends it by :meth:`reveal`."""

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str = "given") -> None:
        if not isinstance(value, str):
            raise _core.InvalidTypeError(f"a credential ({origin}) must be a str, got {type(value).__name__}")
        if not value:
            raise _core.InvalidArgumentError(f"the credential ({origin}) is empty")
        self._value = value
        self.origin = origin

    def reveal(self) -> str:
        """The value itself, for the request that needs it (never for a message)."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({self.origin}, {MASK})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __getstate__(self) -> tuple[str, str]:
        return (self._value, self.origin)

    def __setstate__(self, state: tuple[str, str]) -> None:
        self._value, self.origin = state


def secret(
    value: str | Secret | None = None,
    *,
    env: str | None = None,
    file: str | os.PathLike[str] | None = None,
    what: str = "credential",
) -> Secret:
    """A credential from exactly one of: ``value`` (a str or a Secret), the environment variable ``env``, or the
    file ``file`` (its text, without the trailing newline). ``what`` names it in errors (``"the API token"``)."""
    given = [name for name, v in (("value", value), ("env", env), ("file", file)) if v is not None]
    if len(given) != 1:
        raise _core.InvalidArgumentError(
            f"{what}: give exactly one of a value, env= or file= (got {', '.join(given) or 'none'})"
        )
    if isinstance(value, Secret):
        return value
    if value is not None:
        return Secret(value, "given")
    if env is not None:
        found = os.environ.get(env)
        if not found:
            raise _core.InvalidArgumentError(f"{what}: the environment variable {env} is not set or is empty")
        return Secret(found, f"env {env}")
    path = Path(os.fspath(file))  # type: ignore[arg-type]
    try:
        text = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as e:
        raise _core.InvalidArgumentError(f"{what}: cannot read the file {path}: {type(e).__name__}") from None
    if not text:
        raise _core.InvalidArgumentError(f"{what}: the file {path} is empty")
    return Secret(text, f"file {path}")


def _values(secrets: Iterable[Secret | str | None]) -> list[str]:
    out: set[str] = set()
    for s in secrets:
        if s is None:
            continue
        value = s.reveal() if isinstance(s, Secret) else s
        if value:
            # As written, as a URL or a form would carry it, and as an error body or a message may quote it: in a
            # JSON string (ASCII-escaped or not), HTML-escaped, and as Python's repr writes it.
            out.update({value, quote(value, safe=""), quote_plus(value)})
            out.update({json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], html.escape(value)})
            out.add(json.dumps(value)[1:-1].replace("/", "\\/"))  # encoders that escape "/" (PHP's, Java's)
            out.add(repr(value)[1:-1])
            # A query of parameters (an Azure SAS token): each credential parameter's value alone too, as a client
            # may send the parameters in another order (Azure's C++ SDK, inside pyarrow, sorts them by name). Short
            # values are left out: masking one would mask unrelated text (a SAS signature is 44 characters).
            for m in _SECRET_PARAMS.finditer("?" + value.removeprefix("?")):
                part = m.group(2)
                if len(part) >= 8:
                    out.update({part, unquote(part), quote(part, safe="")})
    # Longest first, so a value that contains another is masked whole.
    return sorted(out, key=len, reverse=True)


def redact(text: str, secrets: Iterable[Secret | str | None]) -> str:
    """``text`` with every occurrence of each secret's value (also URL-quoted) replaced by ``***``."""
    for value in _values(secrets):
        text = text.replace(value, MASK)
    return text


def redact_url(url: str) -> str:
    """A URL with its password and credential-like query parameters (token, key, signature…) shown as ``***``.
    A password written unquoted with a ``/``, ``?`` or ``#`` in it (AWS secret keys hold ``/``), which ends the
    URL's host part early for a URL parser, is masked up to the URL's last ``@``."""
    scheme, sep, rest = url.partition("://")
    at = rest.rfind("@")
    if sep and at >= 0 and any(c in rest[:at] for c in "/?#"):
        first = re.split(r"[/?#]", rest[:at], maxsplit=1)[0]
        if ":" in first:
            url = f"{scheme}://{first.split(':', 1)[0]}:{MASK}@{rest[at + 1 :]}"
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{userinfo}@{host}"
    query = _SECRET_PARAMS.sub(lambda m: m.group(1) + MASK, "?" + parts.query)[1:] if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redacted_error(
    error: BaseException,
    secrets: Iterable[Secret | str | None],
    context: str,
    kind: type[Exception] = _core.InputError,
) -> Exception:
    """tokenprice's own exception for a foreign one: ``context`` (what was being done, where), the foreign type
    and its message with the secrets removed. Raise it ``from None``: the original's arguments may hold them."""
    message = redact(str(error), secrets)
    return kind(f"{context}: {type(error).__name__}: {message}" if message else f"{context}: {type(error).__name__}")
