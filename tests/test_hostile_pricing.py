"""Hostile inputs to price(), Usage and price_table, each run in a child process under a memory limit and a
timeout (`hostile.run_case`): the child must exit normally with a tokenprice error or a reject, never crash, hang
or return a silent wrong number."""

from __future__ import annotations

from hostile import run_case


def test_unrecognised_mixed_and_duplicate_count_columns() -> None:
    out = run_case(
        """
        import json, pyarrow as pa, tokenprice
        seen = []
        for cols in ({"tokens": [1]}, {"prompt_tokens": [1], "cache_read_input_tokens": [1]},
                     {"prompt_tokens": [1], "input_tokens": [1]}, {"input_tokens": [1], "total_cost": ["x"]}):
            try:
                tokenprice.price_table(pa.table({"model": ["gpt-4o"], **cols}), default_at="2025-01-01")
                seen.append("priced")
            except tokenprice.InvalidArgumentError as e:
                seen.append(str(e)[:40])
        t = tokenprice.price_table(pa.table({"model": ["claude-sonnet-4-5"], "input_tokens": [10],
            "cache_read_input_tokens": [5]}), default_at="2025-10-01")
        print(json.dumps([seen, t.schema.metadata[b"usage_convention"].decode()]))
        """
    )
    seen, convention = out.json()  # type: ignore[misc]
    assert "priced" not in seen and len(seen) == 4
    assert convention.startswith("anthropic: input excludes cache")


def test_nan_inf_huge_and_mixed_counts_in_frames() -> None:
    out = run_case(
        """
        import json, pandas as pd, tokenprice
        f = pd.DataFrame({"model": ["gpt-4o"] * 4, "input_tokens": [float("nan"), float("inf"), 1e30, -1.0]})
        status = list(tokenprice.price_table(f, default_at="2025-01-01")["status"])
        try:
            tokenprice.price_table(pd.DataFrame({"model": ["gpt-4o"] * 2, "input_tokens": [1, "x"]}),
                                   default_at="2025-01-01")
            mixed = "accepted"
        except tokenprice.TokenPriceError as e:
            mixed = type(e).__name__
        print(json.dumps([status, mixed]))
        """
    )
    status, mixed = out.json()  # type: ignore[misc]
    assert all(s and "input_tokens" in s for s in status), status
    assert mixed == "InvalidTypeError"


def test_hostile_times_for_price_and_the_timestamp_column() -> None:
    out = run_case(
        """
        import json, pyarrow as pa, tokenprice
        u = tokenprice.Usage(input_tokens=1)
        errors = []
        for at in (float("nan"), float("inf"), -1e20, 10**30, True, -10**400):
            try:
                tokenprice.price(u, "gpt-4o", at=at)
                errors.append("accepted")
            except tokenprice.TokenPriceError as e:
                errors.append(type(e).__name__)
        ts = pa.array([2**62, -2**62], pa.timestamp("ms"))
        t = tokenprice.price_table(pa.table({"model": ["gpt-4o"] * 2, "timestamp": ts, "input_tokens": [1, 1]}))
        print(json.dumps([errors, t.column("status").to_pylist()]))
        """
    )
    errors, status = out.json()  # type: ignore[misc]
    assert "accepted" not in errors and errors[4] == "InvalidTypeError"
    assert all("outside the years 1 to 9999" in s for s in status)


def test_huge_counts_are_exact_and_huge_ints_are_named() -> None:
    out = run_case(
        """
        import json, tokenprice
        c = tokenprice.price(tokenprice.Usage(input_tokens=10**19), "gpt-4o", at="2025-01-01")
        messages = []
        for v in (2**70, 2**200, -2**200, 1.5, "3", None):
            try:
                tokenprice.Usage(input_tokens=v)
            except tokenprice.TokenPriceError as e:
                messages.append(str(e))
        print(json.dumps([str(c.total), messages]))
        """
    )
    total, messages = out.json()  # type: ignore[misc]
    assert total == "25000000000000"
    assert len(messages) == 6 and all("input_tokens" in m for m in messages)
    assert "is more than 18446744073709551615" in messages[0] and "negative" not in messages[0]


def test_pickled_objects_reach_a_spawned_worker() -> None:
    out = run_case(
        """
        import json, multiprocessing, pickle, tokenprice
        book = tokenprice.PriceBook.default().with_overrides({"discounts": {"openai": "0.5"}})
        cost = tokenprice.price(tokenprice.Usage(input_tokens=10**6), "gpt-4o", at="2025-01-01", book=book)
        if __name__ == "__main__":
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                back = pool.apply(pickle.loads, (pickle.dumps((book, cost)),))
            print(json.dumps([back[0] == book, back[1] == cost, str(back[1].total)]))
        """
    )
    assert out.json() == [True, True, "1.25"]
