"""Money as integer minor units with an ISO 4217 currency; no floats anywhere."""

from __future__ import annotations

from dataclasses import dataclass

from babel.numbers import get_currency_precision, list_currencies

_CURRENCIES = frozenset(list_currencies())


class MoneyError(ValueError):
    pass


def normalise_currency(code: object) -> str:
    if not isinstance(code, str) or code.upper() not in _CURRENCIES or len(code) != 3:
        raise MoneyError(f"unknown currency: {code!r}")
    return code.upper()


def exponent(currency: str) -> int:
    return get_currency_precision(currency)


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise MoneyError("amounts are whole numbers of minor units")
        object.__setattr__(self, "currency", normalise_currency(self.currency))

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot mix {self.currency} and {other.currency}")


def split(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` minor units by ``weights`` with the largest-remainder method.

    The parts always add up to ``total`` exactly.
    """
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise MoneyError("weights must be non-negative and not all zero")
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (total * weights[i]) % whole, reverse=True)
    for i in remainders[: total - sum(parts)]:
        parts[i] += 1
    return parts
