"""Stripe's form encoding of nested parameters: dicts and lists become bracketed keys.

``{"metadata": {"a": "1"}, "items": [{"price": "p"}], "expand": ["customer"]}``
encodes as ``metadata[a]=1``, ``items[0][price]=p``, ``expand[0]=customer``
(indexed arrays, as Stripe's own libraries send them). ``True``/``False`` are
``true``/``false``, a ``Decimal`` its plain digits (``unit_amount_decimal``);
floats are refused. ``None`` is left out, while ``""`` is sent, which is how
Stripe unsets a field (``metadata[key]=""`` deletes that key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

FormPairs = list[tuple[str, str]]


def encode(params: Mapping[str, Any]) -> FormPairs:
    """Flatten nested ``params`` into ordered ``(key, value)`` form pairs."""
    pairs: FormPairs = []
    for key, value in params.items():
        _flatten(str(key), value, pairs)
    return pairs


def _flatten(key: str, value: Any, pairs: FormPairs) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        for sub_key, sub_value in value.items():
            _flatten(f"{key}[{sub_key}]", sub_value, pairs)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for index, item in enumerate(value):
            _flatten(f"{key}[{index}]", item, pairs)
    else:
        pairs.append((key, _scalar(key, value)))


def _scalar(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")  # never exponent notation (``1E+2``)
    # Floats are refused on purpose: money goes over the wire as int minor units.
    raise TypeError(f"{key}: cannot form-encode {type(value).__name__}")
