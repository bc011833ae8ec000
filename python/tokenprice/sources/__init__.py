"""Where the logs are: readers that fetch usage records from the systems that keep them and price them.

Each source is imported only when used (its driver is an optional dependency): ``tokenprice.sources.litellm``
reads a LiteLLM proxy's spend logs from its Postgres database (the ``postgres`` extra).
"""

from __future__ import annotations

from typing import Any

__all__ = ["litellm"]


def __getattr__(name: str) -> Any:
    if name == "litellm":
        from tokenprice.sources.litellm import litellm

        # Importing the module bound its name here; the name is the function's (the module stays importable).
        globals()["litellm"] = litellm
        return litellm
    raise AttributeError(f"module 'tokenprice.sources' has no attribute {name!r}")
