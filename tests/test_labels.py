"""Labels from the application's code: contextvars, so they follow asyncio tasks and stay out of other requests;
nested blocks merge; `labels.wrap(fn)` carries them into threads and executors, which do not inherit a context."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

import tokenprice
from tokenprice import labels


def test_nested_blocks_merge_override_remove_and_undo() -> None:
    assert labels.current() == {}
    with labels(tenant="acme", feature="search"):
        with labels(feature="chat", conversation="c1"):
            assert labels.current() == {"tenant": "acme", "feature": "chat", "conversation": "c1"}
            with labels(conversation=None):
                assert labels.current() == {"tenant": "acme", "feature": "chat"}
        assert labels.current() == {"tenant": "acme", "feature": "search"}
    assert labels.current() == {}


def test_a_label_is_a_str_number_or_bool() -> None:
    with pytest.raises(TypeError, match="label tenant="):
        with labels(tenant=["acme"]):  # type: ignore[arg-type]
            pass


def test_labels_follow_nested_asyncio_tasks_and_do_not_leak_between_them() -> None:
    seen: dict[str, dict[str, object]] = {}

    async def leaf(name: str) -> None:
        await asyncio.sleep(0)
        seen[name] = labels.current()

    async def request(tenant: str) -> None:
        with labels(tenant=tenant):
            await asyncio.sleep(0)
            with labels(feature=f"f-{tenant}"):
                # Tasks created here copy the context: they see both labels, even after the block ends.
                tasks = [asyncio.create_task(leaf(f"{tenant}-{i}")) for i in range(3)]
            await asyncio.gather(*tasks)

    async def main() -> None:
        await asyncio.gather(*(request(t) for t in ("acme", "globex", "initech")))

    asyncio.run(main())
    assert len(seen) == 9
    for name, got in seen.items():
        tenant = name.split("-")[0]
        assert got == {"tenant": tenant, "feature": f"f-{tenant}"}


def test_threads_and_executors_get_labels_only_through_wrap() -> None:
    got: list[dict[str, object]] = []
    with labels(tenant="acme"):
        plain = threading.Thread(target=lambda: got.append(labels.current()))
        wrapped = threading.Thread(target=labels.wrap(lambda: got.append(labels.current())))
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            fn = labels.wrap(labels.current)
            in_pool = [pool.submit(fn) for _ in range(8)]
            results = [f.result() for f in in_pool]
    plain.start()
    plain.join()
    wrapped.start()
    wrapped.join()
    assert got == [{}, {"tenant": "acme"}]
    assert results == [{"tenant": "acme"}] * 8
    assert labels.current() == {}


def test_priced_calls_carry_the_labels_in_force() -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1759320000,
        "model": "gpt-4o",
        "choices": [],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10},
    }
    with labels(tenant="acme", feature="search"):
        call = tokenprice.price_call(body, labels={"feature": "rerank"})
    assert call.labels == {"tenant": "acme", "feature": "rerank"}
    assert call.total == tokenprice.price(body, at=call.timestamp).total
