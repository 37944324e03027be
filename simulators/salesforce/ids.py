"""Salesforce record ids: 3-char key prefix, 12 more chars, a 3-char case checksum.

Generated ids are deterministic (a per-kind counter) and carry the real
18-character checksum suffix, so they look and validate like Salesforce's.
"""

from __future__ import annotations

import re
import string

from simulators.storage import DocumentStore

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
# Characters 4-6 of a real id name the pod and a reserved digit; "RG0" marks ours.
_INSTANCE = "RG0"


def is_salesforce_id(value: object) -> bool:
    """Whether ``value`` has the shape of a 15- or 18-character record id."""
    return isinstance(value, str) and bool(_ID_RE.match(value))


def checksum_suffix(id15: str) -> str:
    """The 3 characters that make a case-sensitive 15-char id case-insensitive."""
    suffix = ""
    for start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def make_id(key_prefix: str, number: int) -> str:
    """The 18-char id of the ``number``-th record with this key prefix."""
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    body = f"{key_prefix}{_INSTANCE}{digits.rjust(9, '0')}"
    if len(body) != 15:
        raise ValueError(f"id counter overflow for prefix {key_prefix}")
    return body + checksum_suffix(body)


def new_record_id(store: DocumentStore, kind: str, key_prefix: str) -> str:
    """A fresh id for a new record of ``kind`` that no stored record uses."""
    return new_record_ids(store, kind, key_prefix, 1)[0]


def new_record_ids(store: DocumentStore, kind: str, key_prefix: str, count: int) -> list[str]:
    """``count`` distinct fresh ids, for records created together before any is stored."""
    ids: list[str] = []
    number = len(store.all(kind)) + 1
    while len(ids) < count:
        candidate = make_id(key_prefix, number)
        if store.get(kind, candidate) is None:
            ids.append(candidate)
        number += 1
    return ids
