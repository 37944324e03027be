"""Upstream failures are reported once per system and hop, never per object."""

from resolvers.errors import MAX_PATHS, SourceFailures
from sources.errors import SourceServerError, SourceTimeout, SourceUnavailable
from sources.systems import System


def test_one_error_per_system_and_hop() -> None:
    failures = SourceFailures()
    boom = SourceServerError(System.BILLING, "boom", status=500, vendor_code="api_error")
    for i in range(50):
        failures.record(boom, "subscriptions", ["customers", i])
    # Another hop's batch fails with its own error: reported too.
    failures.record(SourceServerError(System.BILLING, "boom"), "invoices", ["customers", 0])
    errors = failures.graphql_errors()
    assert [(e.extensions or {})["hop"] for e in errors] == ["subscriptions", "invoices"]
    assert {(e.extensions or {})["code"] for e in errors} == {"SOURCE_ERROR"}
    assert errors[0].extensions == {
        "code": "SOURCE_ERROR",
        "system": "BILLING",
        "hop": "subscriptions",
        "affected": 50,
        "paths": [["customers", i] for i in range(50)],
        "vendorCode": "api_error",
    }
    assert errors[0].path == ["customers", 0]
    assert not failures.down(System.BILLING)


def test_paths_are_capped_but_all_counted() -> None:
    failures = SourceFailures()
    boom = SourceServerError(System.ERP, "boom")
    for i in range(MAX_PATHS + 20):
        failures.record(boom, "arPostings", ["invoices", i, "erpPosting"])
    (error,) = failures.graphql_errors()
    assert error.extensions is not None
    assert error.extensions["affected"] == MAX_PATHS + 20
    assert len(error.extensions["paths"]) == MAX_PATHS


def test_a_system_found_down_is_reported_once_and_fails_fast_later() -> None:
    failures = SourceFailures()
    down = SourceUnavailable(System.ERP, "503")
    failures.record(down, "revenueSchedules", ["a"])
    assert failures.down(System.ERP) is down
    # Another hop in flight fails on its own, and a later one fails fast with the
    # same error: either way the system is down once.
    failures.record(SourceUnavailable(System.ERP, "503"), "arPostings", ["b"])
    failures.record(down, "arPostings", ["c"])
    errors = failures.graphql_errors()
    assert len(errors) == 1
    assert errors[0].extensions is not None
    assert errors[0].extensions["paths"] == [["a"], ["b"], ["c"]]
    assert errors[0].extensions is not None
    assert errors[0].extensions["code"] == "SOURCE_UNAVAILABLE"
    assert failures.failed(System.ERP) and not failures.failed(System.CRM)


def test_timeout_code() -> None:
    failures = SourceFailures()
    failures.record(SourceTimeout(System.CRM, "no answer within 1s"), "accounts")
    (error,) = failures.graphql_errors()
    assert error.extensions is not None
    assert error.extensions["code"] == "SOURCE_TIMEOUT"
    assert failures.down(System.CRM) is not None
