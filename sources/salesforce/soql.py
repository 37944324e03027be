"""Building SOQL safely: every value goes through a quoting function here.

SOQL string literals are single-quoted with backslash escapes; LIKE patterns
additionally escape ``%`` and ``_``. Ids are checked for the record-id shape
before they are sent, since one that does not have it cannot exist (and real
Salesforce rejects the whole query for it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import BaseModel

_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_STRING_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}

SoqlValue = str | int | Decimal | bool | date | datetime | None


def is_record_id(value: object) -> bool:
    """Whether ``value`` has the shape of a 15- or 18-character Salesforce id."""
    return isinstance(value, str) and bool(_ID_RE.match(value))


def escape(text: str) -> str:
    """The body of a SOQL string literal for ``text`` (without the quotes)."""
    return "".join(_STRING_ESCAPES.get(char, char) for char in text)


def quote(text: str) -> str:
    return f"'{escape(text)}'"


def literal(value: SoqlValue) -> str:
    """A SOQL literal for a Python value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return quote(value)


def in_list(values: Iterable[SoqlValue]) -> str:
    """``('a','b')`` for an IN clause."""
    return "(" + ",".join(literal(v) for v in values) + ")"


def like_prefix(prefix: str) -> str:
    """A LIKE pattern literal matching strings that start with ``prefix``."""
    body = escape(prefix).replace("%", "\\%").replace("_", "\\_")
    return f"'{body}%'"


def field_list(model: type[BaseModel]) -> list[str]:
    """The vendor field names (aliases) a wire model reads, for SELECT lists."""
    return [info.alias or name for name, info in model.model_fields.items()]
