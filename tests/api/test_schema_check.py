"""``revgraph schema check``: breaking/dangerous changes and the CHANGELOG rule."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import resolvers.schema
from api.cli import app
from api.schema_check import breaking_entries, check_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schema.graphql"

# The current schema plus a field and a type it does not have: the code "removed" them.
EXTRA_FIELD = "extend type Customer {\n  legacyCode: String\n}\n"
DEPRECATED_FIELD = (
    'extend type Customer {\n  legacyCode: String @deprecated(reason: "Use `name`.")\n}\n'
)
EXTRA_TYPE = "type LegacyThing {\n  id: ID!\n}\n"

RECORDED = """# Changelog

## Unreleased

### Changed

- Something else changed, not breaking.
- **BREAKING:** `Customer.legacyCode` is removed: no system of record has
  filled it since the CRM migration.

## 0.1.0

- First release.
"""


def _old_schema(tmp_path: Path, extra: str) -> Path:
    old = tmp_path / "old.graphql"
    old.write_text(SCHEMA_FILE.read_text() + "\n" + extra)
    return old


def _check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["schema", "check", *args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _changelog(tmp_path: Path, text: str) -> str:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(text)
    return str(path)


def test_the_committed_schema_has_no_breaking_changes(tmp_path: Path) -> None:
    code, output = _check("--against", str(SCHEMA_FILE), "--changelog", str(tmp_path / "none"))
    assert code == 0, output
    assert "no breaking changes" in output


def test_a_removed_field_fails_and_is_named(tmp_path: Path) -> None:
    old = _old_schema(tmp_path, EXTRA_FIELD)
    empty = _changelog(tmp_path, "# Changelog\n\n## Unreleased\n")
    code, output = _check("--against", str(old), "--changelog", empty)
    assert code == 1, output
    assert "FIELD_REMOVED" in output and "Customer.legacyCode" in output
    assert "Not deprecated first" in output and "removals go through @deprecated" in output
    assert "`Customer.legacyCode`" in output  # what to record, in the failure message
    assert "Schema check failed" in output


def test_a_removed_type_fails_and_is_named(tmp_path: Path) -> None:
    old = _old_schema(tmp_path, EXTRA_TYPE)
    code, output = _check("--against", str(old), "--changelog", str(tmp_path / "none"))
    assert code == 1, output
    assert "TYPE_REMOVED" in output and "LegacyThing was removed." in output
    assert "does not exist" in output  # the changelog path given records nothing


def test_a_breaking_change_recorded_in_the_changelog_passes(tmp_path: Path) -> None:
    old = _old_schema(tmp_path, EXTRA_FIELD)
    code, output = _check("--against", str(old), "--changelog", _changelog(tmp_path, RECORDED))
    assert code == 0, output
    assert "Customer.legacyCode" in output and "recorded in" in output
    assert "every breaking change is recorded" in output


@pytest.mark.parametrize(
    ("changelog", "why"),
    [
        (RECORDED.replace("## Unreleased", "## 0.2.0"), "released, not Unreleased"),
        (RECORDED.replace("**BREAKING:**", "**Breaking**"), "no BREAKING marker"),
        (RECORDED.replace("`Customer.legacyCode`", "Customer.legacyCode"), "not in backticks"),
        (RECORDED.replace("`Customer.legacyCode`", "`Customer.name`"), "another field"),
    ],
)
def test_entries_that_do_not_record_the_change(tmp_path: Path, changelog: str, why: str) -> None:
    old = _old_schema(tmp_path, EXTRA_FIELD)
    code, output = _check("--against", str(old), "--changelog", _changelog(tmp_path, changelog))
    assert code == 1, (why, output)
    assert "not recorded in" in output


def test_an_entry_without_a_reason_does_not_record(tmp_path: Path) -> None:
    old = _old_schema(tmp_path, EXTRA_FIELD)
    bare = "## Unreleased\n\n- **BREAKING:** `Customer.legacyCode` removed.\n"
    code, output = _check("--against", str(old), "--changelog", _changelog(tmp_path, bare))
    assert code == 1, output
    assert "without a reason" in output


def test_the_type_name_and_a_qualified_marker_record_it(tmp_path: Path) -> None:
    old = _old_schema(tmp_path, EXTRA_FIELD)
    text = (
        "## [Unreleased]\n\n* **BREAKING (api):** `Customer` loses `legacyCode`, which no\n"
        "  client has read in a year.\n"
    )
    code, output = _check("--against", str(old), "--changelog", _changelog(tmp_path, text))
    assert code == 0, output


def test_a_deprecated_field_removed_says_so(tmp_path: Path) -> None:
    old = _old_schema(tmp_path, DEPRECATED_FIELD)
    code, output = _check("--against", str(old), "--changelog", str(tmp_path / "none"))
    assert code == 1, output  # deprecated or not, the changelog must record it
    assert "It was deprecated in the old schema (Use `name`.)" in output
    assert "Not deprecated first" not in output
    code, output = _check("--against", str(old), "--changelog", _changelog(tmp_path, RECORDED))
    assert code == 0, output


OLD_SMALL = """
type Query {
  contracts(first: Int = 20, stage: Stage): [String!]!
}

enum Stage {
  DRAFT
  ACTIVE
}
"""
NEW_SMALL = OLD_SMALL.replace("= 20", "= 50").replace("ACTIVE", "ACTIVE\n  ENDED")


def test_dangerous_changes_are_listed_and_never_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolvers.schema, "schema_sdl", lambda: NEW_SMALL)
    old = tmp_path / "old.graphql"
    old.write_text(OLD_SMALL)
    code, output = _check("--against", str(old), "--changelog", str(tmp_path / "none"))
    assert code == 0, output
    assert "Dangerous changes (2)" in output
    assert "ARG_DEFAULT_VALUE_CHANGE" in output and "Query.contracts(first:)" in output
    assert "VALUE_ADDED_TO_ENUM" in output and "Stage.ENDED" in output
    assert "no breaking changes" in output


def test_a_git_ref_is_read_with_git_show(monkeypatch: pytest.MonkeyPatch) -> None:
    inside = subprocess.run(
        ["git", "rev-parse", "--verify", "HEAD:schema.graphql"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if inside.returncode != 0:
        pytest.skip("not a git checkout with a committed schema.graphql")
    monkeypatch.chdir(ROOT)
    code, output = _check("--against", "HEAD")
    assert code == 0, output
    assert "HEAD:schema.graphql" in output


@pytest.mark.parametrize(
    ("against", "said"),
    [
        ("no-such-ref-0f3a", "neither a file nor a git revision"),
        ("missing/old.graphql", "neither a file nor a git revision"),
    ],
)
def test_a_bad_ref_or_missing_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, against: str, said: str
) -> None:
    monkeypatch.chdir(ROOT)
    code, output = _check("--against", against)
    assert code == 2, output
    assert "Cannot check the schema" in output and said in output and against in output


def test_an_invalid_sdl_file_is_a_clear_error(tmp_path: Path) -> None:
    old = tmp_path / "old.graphql"
    old.write_text("type Query {")
    code, output = _check("--against", str(old))
    assert code == 2, output
    assert "not a valid GraphQL schema" in output


# The CHANGELOG entry of the Subscription -> BillingSubscription rename, verbatim: the
# rule was designed so that it records every breaking change of that rename.
RENAME_ENTRY = """## Unreleased

### Changed

- **BREAKING:** the billing GraphQL type `Subscription` is renamed
  `BillingSubscription` (with `BillingSubscriptionConnection` and
  `BillingSubscriptionEdge`); `schema.graphql` now has an explicit
  `schema { query: Query }` block, so tools that load the SDL (graphql-core
  `build_schema`, code generators) no longer take the billing type for the
  subscription root. Clients that name the type (fragments `on Subscription`,
  generated code) must use the new name; field names are unchanged.
"""
BEFORE_RENAME = """
type Query { customer: Customer  contract: Contract }
type Customer { subscriptions(first: Int, after: String): SubscriptionConnection! }
type Contract { subscription: Subscription }
type Subscription { id: ID! }
type SubscriptionConnection { edges: [SubscriptionEdge!]! }
type SubscriptionEdge { node: Subscription! cursor: String! }
"""
AFTER_RENAME = "schema { query: Query }\n" + BEFORE_RENAME.replace(
    "Subscription", "BillingSubscription"
)


def test_the_rename_entry_records_the_rename() -> None:
    report = check_schema(BEFORE_RENAME, AFTER_RENAME, RENAME_ENTRY)
    kinds = sorted(c.kind for c in report.breaking)
    assert kinds == ["FIELD_CHANGED_KIND"] * 2 + ["TYPE_REMOVED"] * 3, report
    assert report.ok, [c.description for c in report.unrecorded]
    assert not check_schema(BEFORE_RENAME, AFTER_RENAME, "## Unreleased\n").ok


def test_only_breaking_bullets_of_unreleased_are_entries() -> None:
    text = RENAME_ENTRY + "\n## 0.1.0\n\n- **BREAKING:** `Customer` went away for good reasons.\n"
    (entry,) = breaking_entries(text)
    assert "Subscription" in entry.names and "Customer" not in entry.names
    assert entry.has_reason


def test_help_is_plain_text() -> None:
    result = CliRunner().invoke(app, ["schema", "check", "--help"])
    assert result.exit_code == 0, result.output
    assert "--against FILE|REF" in result.output and "--changelog FILE" in result.output
    assert "╭" not in result.output and "<str>" not in result.output
