"""Deterministic, vendor-shaped identifiers for the seed.

* Salesforce: 15 characters (3-character key prefix, 2-character pod, a
  reserved ``0``, 9 base-62 digits) plus the 3-character case checksum that
  makes the 18-character form.
* Stripe: ``{prefix}_`` and 14 base-62 characters that look random: a
  counter pushed through an affine bijection modulo 62**14, so they are
  unique without bookkeeping.
* NetSuite: numeric internal ids, one counter per record type.

Everything derives from the seed, so the same seed gives the same ids.
"""

from __future__ import annotations

import zlib

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_STRIPE_MODULUS = 62**14


def _multiplier() -> int:
    # About 0.618 of the modulus (so consecutive counters land far apart), odd and
    # not a multiple of 31, hence coprime to 62**14: n -> a*n+b is a bijection.
    a = (_STRIPE_MODULUS * 618_034) // 1_000_000 | 1
    while a % 31 == 0:
        a += 2
    return a


_STRIPE_MULTIPLIER = _multiplier()


_PAIRS = [a + b for a in B62 for b in B62]
"""Every two-digit base-62 string, indexed by value: two digits per division."""


def base62(n: int, width: int = 0) -> str:
    chunks = []
    while n:
        n, r = divmod(n, 3844)
        chunks.append(_PAIRS[r])
    return "".join(reversed(chunks)).lstrip("0").rjust(width, "0")


def salesforce_checksum(id15: str) -> str:
    """The 18-character form of a 15-character Salesforce id."""
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for i, ch in enumerate(id15[start : start + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix.append(_CHECKSUM[bits])
    return id15 + "".join(suffix)


class IdFactory:
    """Hands out ids in generation order; one instance per seed."""

    def __init__(self, seed: int) -> None:
        self._pod = base62(seed % 3844, 2)
        self._sf_offset = (seed * 7919) % 1_000_000
        self._stripe_offset = (seed * 104_729 + 12_345) % _STRIPE_MODULUS
        self._counters: dict[str, int] = {}

    def _next(self, key: str) -> int:
        n = self._counters.get(key, 0) + 1
        self._counters[key] = n
        return n

    def salesforce(self, prefix: str) -> str:
        n = self._sf_offset + self._next(f"sf:{prefix}")
        return salesforce_checksum(f"{prefix}{self._pod}0{base62(n, 9)}")

    def stripe(self, prefix: str) -> str:
        n = self._next(f"stripe:{prefix}")
        # The prefix shifts the sequence, so cus_ and in_ ids never share a suffix pattern.
        offset = self._stripe_offset + zlib.crc32(prefix.encode()) * 0x9E3779B97F4A7C15
        scrambled = (n * _STRIPE_MULTIPLIER + offset) % _STRIPE_MODULUS
        return f"{prefix}_{base62(scrambled, 14)}"

    def netsuite(self, record_type: str, start: int) -> str:
        return str(start + self._next(f"ns:{record_type}"))
