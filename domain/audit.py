"""Who did what: the actor of a mutation, its outcome, and what an audit record may show.

Every mutation writes an audit record (:mod:`store.audit`). This module decides
what goes into it, without knowing about GraphQL or SQL:

* :class:`Actor`: who called (there is no authentication yet: the caller is
  ``anonymous`` with no role until an identity is attached to the request);
* :func:`redact`: the input as it may be kept — e-mail addresses and anything
  under a key naming an e-mail, a secret, a token or a password become
  ``"[redacted]"``, at any depth;
* :func:`outcome`: ``ACCEPTED``, ``REFUSED`` or ``REPLAYED``, followed by the
  user error codes or the transaction status after a colon
  (``REFUSED:ILLEGAL_TRANSITION``, ``ACCEPTED:COMPLETED``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["ANONYMOUS", "REDACTED", "Actor", "Outcome", "outcome", "redact"]

REDACTED = "[redacted]"
_SECRET_KEYS = ("email", "secret", "token", "password")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who called a mutation: a name and, once authorization exists, a role."""

    name: str
    role: str | None = None


ANONYMOUS = Actor("anonymous", None)
"""The caller until authentication lands."""


class Outcome(StrEnum):
    ACCEPTED = "ACCEPTED"
    """The mutation ran (or started its flow)."""
    REFUSED = "REFUSED"
    """Nothing was changed: a user error, a reused key, a system that could not be asked."""
    REPLAYED = "REPLAYED"
    """The idempotency key had been used: the first answer was given again."""


def outcome(kind: Outcome, details: Iterable[str] = ()) -> str:
    """``KIND`` or ``KIND:DETAIL,DETAIL`` (the user error codes, or a status)."""
    listed = ",".join(d for d in details if d)
    return f"{kind.value}:{listed}" if listed else kind.value


def _secret_key(key: object) -> bool:
    folded = str(key).lower().replace("_", "").replace("-", "")
    return any(word in folded for word in _SECRET_KEYS)


def _redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _secret_key(k) and v is not None else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    if isinstance(value, str) and _EMAIL.search(value):
        return REDACTED
    return value


def redact(value: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``value`` fit for the audit log (see the module docstring).

    Keys are compared case-insensitively without ``_`` and ``-`` (``billingEmail``,
    ``billing_email``, ``api-token``); a null value under such a key stays null.
    """
    redacted: dict[str, Any] = _redact(value)
    return redacted
