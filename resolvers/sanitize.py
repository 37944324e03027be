"""Upstream error texts as clients may see them: no credentials, no internal hosts.

A vendor's message, or one an adapter built around it, can carry the URL it
called (``http://10.0.3.7:8003/v1/customers?...``), a host and port, or a
credential — whole or masked (``Bearer sk_test_...``, ``sk_live_****1234``,
``token=...``). :func:`sanitize` keeps the sentence and its meaning (the path
called, the vendor's words) and replaces the rest:

* a URL's scheme, host and port become ``<upstream>`` and its query string is
  dropped (``<upstream>/v1/customers``);
* a bare ``host:port`` or IP address becomes ``<host>``;
* credentials become ``[credential]``: HTTP auth schemes and the value after
  them, vendor key shapes (Stripe's ``sk_``/``rk_``/``pk_``/``whsec_``, our
  ``rg_`` keys), JWTs, and the value of any ``token``/``secret``/``password``/
  ``api_key``/``authorization`` setting.

Every text field that can hold an upstream error goes through it, for every
role; who may see such fields at all is :mod:`resolvers.permissions`' business.
"""

from __future__ import annotations

import re

__all__ = ["sanitize", "sanitize_optional"]

CREDENTIAL = "[credential]"
HOST = "<host>"
UPSTREAM = "<upstream>"

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization headers and their values, whole or masked.
    (re.compile(r"\b(?:Bearer|Basic|Token)\s+[^\s,;\"']+", re.IGNORECASE), CREDENTIAL),
    # key=value / key: value settings whose value is a secret.
    (
        re.compile(
            r"(?i)\b(api[_-]?key|access[_-]?token|token|secret|password|passwd|pwd|"
            r"authorization|client[_-]?secret)(\s*[=:]\s*)[^\s,;&\"']+"
        ),
        rf"\1\2{CREDENTIAL}",
    ),
    # JSON Web Tokens (three base64url segments, the first a JSON header).
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), CREDENTIAL),
    # Vendor and gateway key shapes, masked ones included.
    (re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[\w*.]+"), CREDENTIAL),
    (re.compile(r"\b(?:whsec|rg)_[\w*.]+"), CREDENTIAL),
    # URLs: keep the path (what was called), drop scheme, host, port, query, fragment.
    (
        re.compile(
            r"\b[a-z][a-z0-9+.-]*://[^/\s\"'<>]+(/[^\s?#\"'<>]*)?(?:\?[^\s#\"'<>]*)?(?:#\S*)?",
            re.IGNORECASE,
        ),
        rf"{UPSTREAM}\1",
    ),
    # host:port and IP addresses left outside URLs.
    (re.compile(r"\[[0-9a-f:]+\](?::\d+)?", re.IGNORECASE), HOST),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), HOST),
    (re.compile(r"\b(?:localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)+):\d{2,5}\b", re.IGNORECASE), HOST),
)


def sanitize(text: str) -> str:
    """``text`` without credentials, URLs' hosts or internal addresses (see the module)."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def sanitize_optional(text: str | None) -> str | None:
    return None if text is None else sanitize(text)
