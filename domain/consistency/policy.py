"""The consistency policy: per-rule thresholds, windows and owning queues, from TOML.

A policy file has one table per rule under ``rules``, and every rule must have
one (no silent defaults: the file is the whole policy)::

    [rules."contract.value"]
    queue = "FINANCE_OPS"                       # who owns fixing it (every rule)
    absolute = { USD = "1.00", JPY = "100" }    # per currency, major units
    percent = "0.5"                             # of the reference amount
    combine = "OR"                              # AND | OR (default OR)

    [rules."invoice.posting"]
    queue = "FINANCE_OPS"
    posting_window = "72h"

    [rules."contract.activation"]
    queue = "FINANCE_OPS"
    activation_slo = "24h"

=====================  ==============================================================
key                    meaning
=====================  ==============================================================
``queue``              every rule (required): ``FINANCE_OPS``, ``SALES_OPS`` or
                       ``PLATFORM`` — the queue that owns a non-consistent check
``absolute``           rules comparing amounts (``contract.value``,
                       ``invoice.posting``, ``revenue.rollforward``): a table of
                       ISO 4217 code (upper case) → decimal string (or integer) ≥ 0,
                       with no more decimals than the currency has (JPY: none)
``percent``            same rules: a decimal string (or integer) ≥ 0, in percent of
                       the reference amount (the owner's: the contract's value, the
                       invoice's total, the schedule's total)
``combine``            same rules: ``AND`` or ``OR`` (default ``OR``)
``posting_window``     ``invoice.posting`` (required): how long after an invoice is
                       finalized a missing or different AR posting is ``PENDING``
``activation_slo``     ``contract.activation`` (required): how long after activation
                       a missing subscription or schedule is ``PENDING``
=====================  ==============================================================

**Thresholds.** A variance ``v`` against a reference amount ``r`` (same
currency) is *within* the threshold when::

    v == 0, or
    tests combined with `combine`, where the tests are
        |v| <= absolute[currency]          (only if the currency is listed)
        |v| * 100 <= percent * |r|          (only if percent is set; false if r == 0)

A test that does not apply (the currency is not listed, no ``percent``) is
dropped; with no test left only an exact match is within. So ``OR`` is the
lenient "whichever is larger" tolerance, ``AND`` the strict one, and a rule
without threshold keys compares exactly.

**Durations** are whole units in the order days, hours, minutes, seconds:
``"72h"``, ``"30m"``, ``"1d12h"``, ``"0s"``. **Decimals** are strings (``"0.5"``)
or integers; a TOML float is refused, being binary.

Every problem is a :class:`PolicyError` naming the file, the key (TOML dotted
notation, ``rules."contract.value".percent``) and what is wrong; load the policy
at start-up (:func:`load_policy`), so a bad file stops the process there.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from domain.consistency.types import RuleName
from domain.exception_items import ExceptionQueue
from domain.money import CurrencyMismatch, Money, exponent

__all__ = [
    "DEFAULT_POLICY_FILE",
    "Combine",
    "Policy",
    "PolicyError",
    "RulePolicy",
    "Threshold",
    "duration_text",
    "load_policy",
    "parse_policy",
]

DEFAULT_POLICY_FILE = "default_policy.toml"
"""The built-in policy, shipped next to this module (package data)."""


class PolicyError(ValueError):
    """A policy file that cannot be used: which file, which key, what is wrong."""

    def __init__(self, file: str, key: str | None, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {message}")


class Combine(StrEnum):
    """How the absolute and the percent test of a threshold combine."""

    AND = "AND"
    OR = "OR"


@dataclass(frozen=True, slots=True)
class Threshold:
    """How far two amounts may differ and still agree (see the module docstring)."""

    absolute: Mapping[str, Decimal] = field(default_factory=dict)
    """Currency code → largest absolute variance, in major units."""
    percent: Decimal | None = None
    """Largest variance in percent of the reference amount."""
    combine: Combine = Combine.OR

    def within(self, variance: Money, reference: Money) -> bool:
        """``variance`` (e.g. ERP total - contract value) is tolerated against ``reference``.

        :class:`~domain.money.CurrencyMismatch` if the two are in different currencies.
        """
        if variance.currency != reference.currency:
            raise CurrencyMismatch(
                f"cannot compare a {variance.currency} variance to a {reference.currency} amount"
            )
        size = abs(variance.amount)
        if size == 0:
            return True
        tests: list[bool] = []
        limit = self.absolute.get(variance.currency)
        if limit is not None:
            tests.append(size <= limit)
        if self.percent is not None:
            tests.append(
                reference.amount != 0 and size * 100 <= self.percent * abs(reference.amount)
            )
        if not tests:
            return False
        return any(tests) if self.combine is Combine.OR else all(tests)

    def describe(self, currency: str) -> str:
        """The tolerance for ``currency`` in words: ``"±0.50 USD or 0.01%"``, ``"exact"``."""
        parts: list[str] = []
        limit = self.absolute.get(currency)
        if limit is not None:
            parts.append(f"±{limit} {currency}")
        if self.percent is not None:
            parts.append(f"{self.percent}%")
        if not parts:
            return "exact"
        return f" {self.combine.lower()} ".join(parts)


EXACT = Threshold()
"""No tolerance: only equal amounts agree."""


@dataclass(frozen=True, slots=True)
class RulePolicy:
    """What the policy says about one rule."""

    rule: RuleName
    queue: ExceptionQueue
    threshold: Threshold | None = None
    """None for rules that compare no amounts."""
    posting_window: timedelta | None = None
    """``invoice.posting`` only."""
    activation_slo: timedelta | None = None
    """``contract.activation`` only."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The validated policy: one :class:`RulePolicy` per rule; ``source`` names the file."""

    source: str
    rules: Mapping[RuleName, RulePolicy]

    def rule(self, name: RuleName) -> RulePolicy:
        return self.rules[name]

    def queue(self, name: RuleName) -> ExceptionQueue:
        """The queue that owns ``name``'s non-consistent checks."""
        return self.rules[name].queue

    def threshold(self, name: RuleName) -> Threshold:
        """``name``'s threshold; exact when the rule has none."""
        return self.rules[name].threshold or EXACT

    @property
    def posting_window(self) -> timedelta:
        window = self.rules[RuleName.INVOICE_POSTING].posting_window
        assert window is not None  # required by validation
        return window

    @property
    def activation_slo(self) -> timedelta:
        slo = self.rules[RuleName.CONTRACT_ACTIVATION].activation_slo
        assert slo is not None  # required by validation
        return slo

    def effective(self) -> dict[str, Any]:
        """The policy as the graph shows it (``consistencyPolicy``), every rule in order.

        ``{"source": ..., "rules": [{"rule", "queue", "absolute": {code: "1.00"},
        "percent": "0.5" | None, "combine": "OR" | None, "posting_window_seconds":
        int | None, "activation_slo_seconds": int | None}, ...]}``. Decimals are
        strings; ``combine`` is None (and ``absolute`` empty) for rules that
        compare no amounts.
        """
        rules: list[dict[str, Any]] = []
        for name in RuleName:
            rule = self.rules[name]
            threshold = rule.threshold
            rules.append(
                {
                    "rule": name.value,
                    "queue": rule.queue.value,
                    "absolute": {
                        code: str(amount)
                        for code, amount in sorted(
                            (threshold.absolute if threshold else {}).items()
                        )
                    },
                    "percent": str(threshold.percent)
                    if threshold and threshold.percent is not None
                    else None,
                    "combine": threshold.combine.value if threshold else None,
                    "posting_window_seconds": _seconds(rule.posting_window),
                    "activation_slo_seconds": _seconds(rule.activation_slo),
                }
            )
        return {"source": self.source, "rules": rules}


def duration_text(duration: timedelta) -> str:
    """A duration as the policy writes it: ``"72h"``, ``"1h30m"``, ``"0s"``."""
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n)
    return text or "0s"


def _seconds(duration: timedelta | None) -> int | None:
    return None if duration is None else int(duration.total_seconds())


# --- loading and validation -----------------------------------------------------------

_THRESHOLD_KEYS = frozenset({"absolute", "percent", "combine"})
_ALLOWED: dict[RuleName, frozenset[str]] = {
    RuleName.CUSTOMER_LINKS: frozenset({"queue"}),
    RuleName.CUSTOMER_ATTRIBUTES: frozenset({"queue"}),
    RuleName.CONTRACT_ACTIVATION: frozenset({"queue", "activation_slo"}),
    RuleName.CONTRACT_VERSION: frozenset({"queue"}),
    RuleName.CONTRACT_VALUE: frozenset({"queue"}) | _THRESHOLD_KEYS,
    RuleName.INVOICE_POSTING: frozenset({"queue", "posting_window"}) | _THRESHOLD_KEYS,
    RuleName.REVENUE_ROLLFORWARD: frozenset({"queue"}) | _THRESHOLD_KEYS,
}
"""The keys each rule's table may hold."""
_REQUIRED: dict[RuleName, tuple[str, ...]] = {
    name: ("queue", *(k for k in ("activation_slo", "posting_window") if k in allowed))
    for name, allowed in _ALLOWED.items()
}
_KEY_ORDER = ("queue", "activation_slo", "posting_window", "absolute", "percent", "combine")

_CURRENCY = re.compile(r"[A-Z]{3}")
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def load_policy(path: Path | None = None) -> Policy:
    """The policy in ``path``, or the built-in default (None); :class:`PolicyError` if bad."""
    if path is None:
        resource = resources.files("domain.consistency").joinpath(DEFAULT_POLICY_FILE)
        return parse_policy(
            resource.read_text(encoding="utf-8"), f"<built-in {DEFAULT_POLICY_FILE}>"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(path), None, f"cannot read the policy file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(str(path), None, "cannot read the policy file: not UTF-8") from exc
    return parse_policy(text, str(path))


def parse_policy(text: str, source: str) -> Policy:
    """The policy in TOML ``text``; ``source`` names it in errors and in ``effective()``."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(source, None, f"not valid TOML: {exc}") from exc
    for key in document:
        if key != "rules":
            raise PolicyError(source, _quote(key), "unknown key (expected: rules)")
    tables = document.get("rules")
    if not isinstance(tables, dict):
        raise PolicyError(
            source, "rules", 'missing: a table per rule, e.g. [rules."contract.value"]'
        )
    known = ", ".join(name.value for name in RuleName)
    for key in tables:
        if key not in RuleName.__members__.values():
            raise PolicyError(source, f"rules.{_quote(key)}", f"unknown rule (known: {known})")
    rules: dict[RuleName, RulePolicy] = {}
    for name in RuleName:
        where = f"rules.{_quote(name.value)}"
        if name.value not in tables:
            raise PolicyError(source, where, "missing: every rule needs a table")
        table = tables[name.value]
        if not isinstance(table, dict):
            raise PolicyError(source, where, "must be a table")
        rules[name] = _rule(source, where, name, table)
    return Policy(source=source, rules=rules)


def _rule(source: str, where: str, name: RuleName, table: dict[str, Any]) -> RulePolicy:
    allowed = _ALLOWED[name]
    listed = ", ".join(k for k in _KEY_ORDER if k in allowed)
    for key in table:
        if key not in allowed:
            raise PolicyError(source, f"{where}.{_quote(key)}", f"unknown key (allowed: {listed})")
    for key in _REQUIRED[name]:
        if key not in table:
            raise PolicyError(source, f"{where}.{key}", "missing: this rule requires it")
    threshold = None
    if "absolute" in allowed:
        threshold = Threshold(
            absolute=_absolute(source, f"{where}.absolute", table.get("absolute", {})),
            percent=_decimal(source, f"{where}.percent", table["percent"])
            if "percent" in table
            else None,
            combine=_combine(source, f"{where}.combine", table.get("combine", "OR")),
        )
    return RulePolicy(
        rule=name,
        queue=_queue(source, f"{where}.queue", table["queue"]),
        threshold=threshold,
        posting_window=_duration(source, f"{where}.posting_window", table["posting_window"])
        if "posting_window" in table
        else None,
        activation_slo=_duration(source, f"{where}.activation_slo", table["activation_slo"])
        if "activation_slo" in table
        else None,
    )


def _quote(key: str) -> str:
    """A TOML key as written in a dotted key: bare if it can be, else quoted."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else f'"{key}"'


def _queue(source: str, key: str, value: Any) -> ExceptionQueue:
    queues = ", ".join(q.value for q in ExceptionQueue)
    if not isinstance(value, str) or value not in ExceptionQueue.__members__.values():
        raise PolicyError(source, key, f"unknown queue {value!r} (expected one of: {queues})")
    return ExceptionQueue(value)


def _combine(source: str, key: str, value: Any) -> Combine:
    if not isinstance(value, str) or value not in Combine.__members__.values():
        raise PolicyError(source, key, f"must be AND or OR, not {value!r}")
    return Combine(value)


def _decimal(source: str, key: str, value: Any) -> Decimal:
    if isinstance(value, float):
        raise PolicyError(
            source, key, f'write decimals as strings ("{value}"): a TOML float is inexact'
        )
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PolicyError(source, key, f"must be a decimal string, not {value!r}")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise PolicyError(source, key, f"not a decimal: {value!r}") from None
    if not number.is_finite():
        raise PolicyError(source, key, f"not a finite decimal: {value!r}")
    if number < 0:
        raise PolicyError(source, key, f"must not be negative: {value!r}")
    return number


def _absolute(source: str, key: str, value: Any) -> dict[str, Decimal]:
    if not isinstance(value, dict):
        raise PolicyError(
            source, key, 'must be a table of currency = amount, e.g. { USD = "1.00" }'
        )
    limits: dict[str, Decimal] = {}
    for code, raw in value.items():
        where = f"{key}.{_quote(code)}"
        if not _CURRENCY.fullmatch(code):
            raise PolicyError(
                source, where, "not an ISO 4217 currency code (three upper-case letters)"
            )
        amount = _decimal(source, where, raw)
        places = exponent(code)
        scaled = amount.scaleb(places)
        if scaled != scaled.to_integral_value():
            raise PolicyError(
                source, where, f"{code} has {places} decimal places; {raw!r} has more"
            )
        limits[code] = amount
    return limits


def _duration(source: str, key: str, value: Any) -> timedelta:
    if not isinstance(value, str):
        raise PolicyError(source, key, f'must be a duration string such as "72h", not {value!r}')
    text = value.strip()
    if text.startswith("-"):
        raise PolicyError(source, key, f"must not be negative: {value!r}")
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise PolicyError(
            source, key, f'not a duration: {value!r} (use e.g. "72h", "30m", "1d12h")'
        )
    d, h, m, s = (int(part or 0) for part in match.groups())
    return timedelta(days=d, hours=h, minutes=m, seconds=s)
