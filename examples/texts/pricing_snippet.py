from decimal import Decimal


def request_cost(input_tokens: int, output_tokens: int, input_per_mtok: Decimal, output_per_mtok: Decimal) -> Decimal:
    """Cost of one request, given prices per million tokens."""
    million = Decimal(1_000_000)
    return input_tokens * input_per_mtok / million + output_tokens * output_per_mtok / million


if __name__ == "__main__":
    print(request_cost(1200, 350, Decimal("2.50"), Decimal("10.00")))
