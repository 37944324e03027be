"""Decoding Stripe's form parameters: ``metadata[key]=v``, ``items[0][price]=p``, ``expand[]=x``.

:func:`decode` turns ``application/x-www-form-urlencoded`` pairs (a POST body
or a query string) into nested dicts of strings; arrays stay dicts keyed by
their index until a handler asks for an array (so a metadata key ``"0"`` is
never mistaken for one). :class:`Params` reads them with Stripe's validation
errors (``Invalid integer: abc``, ``Received unknown parameter: x`` ...), each
naming the full bracketed ``param``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from simulators.billing.errors import InvalidParams

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")

METADATA_MAX_KEYS = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nested parameters from form pairs; ``[]`` appends, ``[n]`` indexes."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if match is None:
            raise InvalidParams(f"Invalid parameter name: {raw_key}", param=raw_key)
        path = [match.group(1), *_SEGMENT.findall(match.group(2))]
        node = root
        for depth, segment in enumerate(path):
            if segment == "":
                # ``expand[]``: the next free index of this array.
                segment = str(len(node))
            last = depth == len(path) - 1
            if last:
                if isinstance(node.get(segment), dict):
                    raise InvalidParams(f"Invalid hash: {raw_key}", param=raw_key)
                node[segment] = value
            else:
                child = node.setdefault(segment, {})
                if not isinstance(child, dict):
                    # ``metadata=x`` then ``metadata[a]=b``: one name, two shapes.
                    raise InvalidParams(f"Invalid hash: {raw_key}", param=raw_key)
                node = child
    return root


class Params:
    """Typed, validated access to one level of decoded parameters."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def name(self, key: str) -> str:
        """The full bracketed name of ``key`` (``items[0][price]``), as Stripe reports it."""
        return f"{self.prefix}[{key}]" if self.prefix else key

    def allow(self, *keys: str) -> None:
        """Reject parameters the endpoint does not take, as Stripe does."""
        for key in self.data:
            if key not in keys:
                raise InvalidParams(
                    f"Received unknown parameter: {self.name(key)}",
                    param=self.name(key),
                    code="parameter_unknown",
                )

    def has(self, key: str) -> bool:
        return key in self.data

    def is_empty(self, key: str) -> bool:
        """``key=`` was sent: Stripe's way to unset a field."""
        return self.data.get(key) == ""

    def string(self, key: str, *, required: bool = False, max_length: int = 5000) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.missing(key)
            return None
        if not isinstance(value, str):
            raise InvalidParams(f"Invalid string: {self.name(key)}", param=self.name(key))
        if len(value) > max_length:
            raise InvalidParams(
                f"Invalid string: {value[:20]}...; must be at most {max_length} characters",
                param=self.name(key),
            )
        return value

    def required_string(self, key: str) -> str:
        value = self.string(key, required=True)
        assert value is not None
        if value == "":
            raise InvalidParams(
                f"You passed an empty string for '{self.name(key)}'. We assume empty values are an "
                f"attempt to unset a parameter; however '{self.name(key)}' cannot be unset.",
                param=self.name(key),
                code="parameter_invalid_empty",
            )
        return value

    def integer(
        self,
        key: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self.string(key, required=required)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise InvalidParams(
                f"Invalid integer: {value}", param=self.name(key), code="parameter_invalid_integer"
            ) from None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise InvalidParams(
                f"This value must be {bounds}.",
                param=self.name(key),
                code="parameter_invalid_integer",
            )
        return number

    def boolean(self, key: str) -> bool | None:
        value = self.string(key)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise InvalidParams(f"Invalid boolean: {value}", param=self.name(key))
        return value == "true"

    def choice(self, key: str, choices: Iterable[str], *, required: bool = False) -> str | None:
        value = self.string(key, required=required)
        allowed = list(choices)
        if value is not None and value not in allowed:
            raise InvalidParams(
                f"Invalid {self.name(key)}: must be one of {', '.join(allowed)}",
                param=self.name(key),
            )
        return value

    def hash(self, key: str, *, required: bool = False) -> Params | None:
        """A nested object (``price_data[...]``); ``None`` when absent."""
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.missing(key)
            return None
        if not isinstance(value, dict):
            raise InvalidParams(f"Invalid hash: {self.name(key)}", param=self.name(key))
        return Params(value, self.name(key))

    def array(self, key: str) -> list[Any] | None:
        """An array (``items[0][...]`` or ``expand[]``), in index order."""
        value = self.data.get(key)
        if value is None:
            return None
        if value == "":
            return []
        if not isinstance(value, dict) or not all(k.isdigit() for k in value):
            raise InvalidParams(f"Invalid array: {self.name(key)}", param=self.name(key))
        return [value[k] for k in sorted(value, key=int)]

    def objects(self, key: str) -> list[Params]:
        """An array of hashes (``items[i][...]``), each readable as :class:`Params`."""
        items = self.array(key) or []
        out = []
        for index, item in enumerate(items):
            name = f"{self.name(key)}[{index}]"
            if not isinstance(item, dict):
                raise InvalidParams(f"Invalid hash: {name}", param=name)
            out.append(Params(item, name))
        return out

    def strings(self, key: str) -> list[str]:
        out = []
        for index, item in enumerate(self.array(key) or []):
            if not isinstance(item, str):
                name = f"{self.name(key)}[{index}]"
                raise InvalidParams(f"Invalid string: {name}", param=name)
            out.append(item)
        return out

    def metadata_update(self, current: dict[str, str]) -> dict[str, str] | None:
        """The metadata after applying ``metadata[...]``: ``""`` deletes a key, ``metadata=``
        clears all. ``None`` when the request does not touch metadata."""
        if "metadata" not in self.data:
            return None
        value = self.data["metadata"]
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise InvalidParams("Invalid hash", param="metadata")
        merged = dict(current)
        for key, item in value.items():
            name = f"metadata[{key}]"
            if not isinstance(item, str):
                raise InvalidParams(f"Invalid string: {name}", param=name)
            if len(key) > METADATA_KEY_MAX:
                raise InvalidParams(
                    f"Metadata keys can have up to {METADATA_KEY_MAX} characters.", param=name
                )
            if len(item) > METADATA_VALUE_MAX:
                raise InvalidParams(
                    f"Metadata values can have up to {METADATA_VALUE_MAX} characters.", param=name
                )
            if item == "":
                merged.pop(key, None)
            else:
                merged[key] = item
        if len(merged) > METADATA_MAX_KEYS:
            raise InvalidParams(
                f"Metadata can have up to {METADATA_MAX_KEYS} keys.", param="metadata"
            )
        return merged

    def missing(self, key: str) -> InvalidParams:
        return InvalidParams(
            f"Missing required param: {self.name(key)}.",
            param=self.name(key),
            code="parameter_missing",
        )
