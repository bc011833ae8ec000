"""Go where the logs are: pull usage records from the system that keeps them, into files ``price_logs`` reads.

Each source is imported the first time it is used (``tokenprice.sources.cloudflare`` loads only the Cloudflare
client; ``tokenprice.sources.litellm``, which reads a LiteLLM proxy's spend logs from its Postgres database, loads
its driver, the ``postgres`` extra), so a source's optional dependencies are needed only by those who use it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenprice.sources._cloudflare import CloudflarePull as CloudflarePull
    from tokenprice.sources._cloudflare import cloudflare as cloudflare
    from tokenprice.sources.litellm import litellm as litellm

# Public name -> (module, attribute).
_LAZY = {
    "cloudflare": ("tokenprice.sources._cloudflare", "cloudflare"),
    "CloudflarePull": ("tokenprice.sources._cloudflare", "CloudflarePull"),
    # The module has the function's name: importing it binds the module here, so the function is bound after.
    "litellm": ("tokenprice.sources.litellm", "litellm"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tokenprice.sources' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
