"""Upstream error texts lose hosts and credentials, and keep what they say."""

from __future__ import annotations

import pytest

from resolvers.sanitize import sanitize, sanitize_optional


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "HTTP 500 from http://127.0.0.1:8003/v1/customers?limit=100&api_key=abc",
            "HTTP 500 from <upstream>/v1/customers",
        ),
        ("Invalid API Key provided: sk_test_****1234", "Invalid API Key provided: [credential]"),
        ("sent Authorization: Bearer rg_key_0123_abcdef", "sent Authorization: [credential]"),
        ("token=abc123; password: hunter2", "token=[credential]; password: [credential]"),
        ("refused by db.internal:5432", "refused by <host>"),
        ("connect to 10.0.3.7:8004 failed", "connect to <host> failed"),
        ("at https://[::1]:8080/x and [::1]:99", "at <upstream>/x and <host>"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln expired", "jwt [credential] expired"),
        ("webhook secret whsec_abc rotated", "webhook secret [credential] rotated"),
        ("INVALID_SESSION_ID: Session expired or invalid", None),
        ("period 2026-01 is closed (version 1.2.3)", None),
    ],
)
def test_sanitize(text: str, expected: str | None) -> None:
    assert sanitize(text) == (text if expected is None else expected)


def test_nothing_stays_nothing() -> None:
    assert sanitize_optional(None) is None
