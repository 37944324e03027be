"""Webhook signatures (Stripe's scheme and ours) and event parsing."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from domain.webhooks import (
    EventError,
    SignatureError,
    SignatureFailure,
    parse_event,
    signature_header,
    verify,
)
from simulators.billing.events import stripe_signer
from sources.systems import System

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
SECRET = "whsec_current"
BODY = json.dumps(
    {
        "id": "evt_1",
        "type": "invoice.finalized",
        "created": T - 2,
        "data": {"object": {"id": "in_1", "object": "invoice"}},
    }
).encode()


def sign(body: bytes, secret: str, t: int = T) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def header(*signatures: str, t: int = T) -> str:
    return ",".join([f"t={t}", *(f"v1={s}" for s in signatures)])


def refused(header_value: str | None, secrets: list[str], body: bytes = BODY) -> SignatureFailure:
    with pytest.raises(SignatureError) as caught:
        verify(System.BILLING, body, header_value, secrets, NOW)
    assert caught.value.message
    return caught.value.reason


def test_a_good_signature_passes() -> None:
    verify(System.BILLING, BODY, header(sign(BODY, SECRET)), [SECRET], NOW)


def test_a_tampered_body_fails() -> None:
    tampered = BODY.replace(b"in_1", b"in_2")
    assert refused(header(sign(BODY, SECRET)), [SECRET], tampered) is SignatureFailure.NO_MATCH


def test_a_wrong_secret_fails() -> None:
    assert refused(header(sign(BODY, "whsec_other")), [SECRET]) is SignatureFailure.NO_MATCH


def test_a_stale_or_future_timestamp_fails_even_when_signed() -> None:
    old = T - 301
    assert refused(header(sign(BODY, SECRET, old), t=old), [SECRET]) is (
        SignatureFailure.TIMESTAMP_OUT_OF_TOLERANCE
    )
    ahead = T + 301
    assert refused(header(sign(BODY, SECRET, ahead), t=ahead), [SECRET]) is (
        SignatureFailure.TIMESTAMP_OUT_OF_TOLERANCE
    )
    within = T - 299
    verify(System.BILLING, BODY, header(sign(BODY, SECRET, within), t=within), [SECRET], NOW)


def test_rotation_any_v1_against_any_secret() -> None:
    # The sender signs with the old and the new secret while it rotates...
    both = header(sign(BODY, "whsec_old"), sign(BODY, SECRET))
    verify(System.BILLING, BODY, both, [SECRET], NOW)
    verify(System.BILLING, BODY, both, ["whsec_old"], NOW)
    # ... and the receiver may hold both while it rotates its own.
    verify(System.BILLING, BODY, header(sign(BODY, "whsec_old")), [SECRET, "whsec_old"], NOW)
    assert refused(both, ["whsec_neither"]) is SignatureFailure.NO_MATCH
    assert refused(both, []) is SignatureFailure.NO_MATCH


def test_a_missing_or_malformed_header_fails() -> None:
    assert refused(None, [SECRET]) is SignatureFailure.MISSING_HEADER
    assert refused("", [SECRET]) is SignatureFailure.MISSING_HEADER
    good = sign(BODY, SECRET)
    for bad in (f"v1={good}", f"t={T}", f"t=soon,v1={good}", "garbage", f"t={'9' * 40},v1=x"):
        assert refused(bad, [SECRET]) is SignatureFailure.MALFORMED, bad
    # Other schemes (v0) are ignored, as Stripe's libraries do.
    verify(System.BILLING, BODY, f"t={T},v0=abc,v1={good}", [SECRET], NOW)


def test_our_scheme_is_the_same_hmac_in_its_own_header() -> None:
    signed = header(sign(BODY, SECRET))
    verify(System.CRM, BODY, signed, [SECRET], NOW)
    verify(System.ERP, BODY, signed, [SECRET], NOW)
    assert signature_header(System.BILLING) == "Stripe-Signature"
    assert {signature_header(s) for s in (System.CRM, System.CONTRACTS, System.ERP)} == {
        "X-Revgraph-Signature"
    }
    with pytest.raises(SignatureError):
        verify(System.CRM, BODY, header(sign(BODY, "nope")), [SECRET], NOW)


def test_parse_a_stripe_event() -> None:
    event = parse_event(System.BILLING, BODY)
    assert (event.source, event.event_id, event.type, event.subject) == (
        System.BILLING,
        "evt_1",
        "invoice.finalized",
        "in_1",
    )
    assert event.occurred_at == NOW - timedelta(seconds=2)
    assert event.payload["data"]["object"]["object"] == "invoice"


def test_parse_a_record_change_event() -> None:
    body = {
        "id": "evt_01748779200000001",
        "object": "event",
        "type": "Account.updated",
        "created": "2025-06-01T12:00:00.000001+00:00",
        "object_type": "Account",
        "object_id": "001000000000001AAA",
        "record": {"Id": "001000000000001AAA", "Name": "Acme"},
    }
    event = parse_event(System.CRM, json.dumps(body).encode())
    assert (event.source, event.subject, event.type) == (
        System.CRM,
        "001000000000001AAA",
        "Account.updated",
    )
    assert event.occurred_at == NOW + timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("system", "body"),
    [
        (System.BILLING, b"not json"),
        (System.BILLING, b"[1]"),
        (System.BILLING, json.dumps({"id": "evt_1", "type": "x", "created": 1}).encode()),
        (System.BILLING, json.dumps({"id": "evt_1", "type": "x", "created": "1", "data": {}})),
        (System.CRM, json.dumps({"id": "evt_1", "type": "x", "created": "2025-06-01T12:00:00"})),
        (System.ERP, json.dumps({"id": "", "type": "x", "created": "2025-06-01T12:00:00Z"})),
        (System.ERP, json.dumps({"id": "e", "type": "x" * 65, "object_id": "1", "created": "x"})),
    ],
)
def test_what_is_not_an_event_is_an_event_error(system: System, body: bytes | str) -> None:
    raw = body.encode() if isinstance(body, str) else body
    with pytest.raises(EventError):
        parse_event(system, raw)


def test_stripe_and_the_billing_simulator_agree_with_our_verifier() -> None:
    """The simulator signs as Stripe does (stripe-python accepts it), and we accept what
    stripe-python's own test helper signs."""
    signed = stripe_signer(SECRET)(BODY)["Stripe-Signature"]
    event = stripe.Webhook.construct_event(BODY, signed, SECRET)
    assert event.id == "evt_1" and event.data.object["id"] == "in_1"
    now = datetime.now(UTC)
    verify(System.BILLING, BODY, signed, [SECRET], now)
    by_stripe = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET)
    verify(System.BILLING, BODY, by_stripe, [SECRET], now)
    tampered = BODY.replace(b"in_1", b"in_2")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, signed, SECRET)
    with pytest.raises(SignatureError):
        verify(System.BILLING, tampered, signed, [SECRET], now)
