"""Schema governance: compare the code's GraphQL schema with an older one.

``revgraph schema check --against FILE|REF`` builds both schemas from SDL and asks
graphql-core which changes would break (``find_breaking_changes``) or may surprise
(``find_dangerous_changes``) the clients of the old one. The old schema is an SDL
file, or ``schema.graphql`` at a git revision (``git show REF:schema.graphql``).

Dangerous changes are listed and never fail. A breaking change fails the check
unless the changelog records it; the rule (also in README.md, "Commands"):

* Only the ``## Unreleased`` section counts (``## [Unreleased]`` too): the check
  runs against the last release, so what was released before is not news.
* In it, an entry is a bullet whose line starts with ``- **BREAKING:**`` (or a
  qualified marker such as ``- **BREAKING (configuration):**``; ``*`` bullets
  too), together with its indented continuation lines.
* The entry names the change in backticks: ``Type.field`` (``Type.field(arg:)``
  for an argument, ``Enum.VALUE`` for an enum value, ``@directive``), or the name
  of a type the change is in or mentions (``Customer`` records every breaking
  change to ``Customer``'s fields; for a changed field type, the old or the new
  type, built-in scalars aside). Naming a type ``X`` also names its connection
  types ``XConnection`` and ``XEdge``.
* The entry gives a reason: at least three words besides the marker and the
  names in backticks.

So the entry for the ``Subscription`` -> ``BillingSubscription`` rename records
``Subscription``, ``SubscriptionConnection`` and ``SubscriptionEdge`` being removed
and the fields whose type went from one to the other.

Removals go through ``@deprecated`` first: a removed field, input field, argument
or enum value says whether the old schema deprecated it (the changelog rule
applies either way).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, build_schema
from graphql.type import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    is_specified_scalar_type,
)
from graphql.utilities import (
    BreakingChangeType,
    find_breaking_changes,
    find_dangerous_changes,
)

SCHEMA_FILE = "schema.graphql"
"""The committed SDL, at the top of the repository (read at a git revision)."""

MIN_REASON_WORDS = 3
"""Words an entry needs besides its marker and the names in backticks."""

_REMOVALS = {
    BreakingChangeType.FIELD_REMOVED,
    BreakingChangeType.ARG_REMOVED,
    BreakingChangeType.VALUE_REMOVED_FROM_ENUM,
}
_CONNECTION_SUFFIXES = ("Connection", "Edge")
_NAME = r"[_A-Za-z][_0-9A-Za-z]*"
# Schema coordinates as graphql-core's descriptions spell them: Type, Type.field,
# Type.field(arg:), @directive, @directive(arg:).
_COORDINATE = re.compile(rf"@?{_NAME}(?:\.{_NAME})?(?:\({_NAME}:\))?")
_UNRELEASED = re.compile(r"^##\s+\[?unreleased\]?\s*$", re.IGNORECASE)
_MARKER = re.compile(r"^[-*]\s+\*\*BREAKING(?:\s*\([^)]*\))?:\*\*")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_WORD = re.compile(r"[A-Za-z]{2,}")


class SchemaSourceError(Exception):
    """The old schema cannot be read or is not valid SDL (the message says which)."""


class Record(Enum):
    """How the changelog stands on one breaking change."""

    RECORDED = "recorded"
    NO_REASON = "no reason"  # named, but by an entry that gives no reason
    MISSING = "missing"


@dataclass(frozen=True)
class OldSchema:
    label: str
    """Where it came from: the file's path, or ``REF:schema.graphql``."""
    sdl: str


@dataclass(frozen=True)
class Change:
    kind: str
    """graphql-core's change type (``FIELD_REMOVED``, ``VALUE_ADDED_TO_ENUM`` ...)."""
    description: str
    subject: str
    """The main coordinate the change is about (``Customer.name``, ``Contract``)."""
    names: frozenset[str]
    """Every name a changelog entry may use to record it."""
    note: str | None = None
    """About deprecation, for a removal."""
    record: Record = Record.MISSING


@dataclass(frozen=True)
class Entry:
    """One ``**BREAKING:**`` bullet of the changelog's Unreleased section."""

    text: str
    names: frozenset[str]
    has_reason: bool


@dataclass(frozen=True)
class Report:
    breaking: tuple[Change, ...]
    dangerous: tuple[Change, ...]

    @property
    def unrecorded(self) -> tuple[Change, ...]:
        return tuple(c for c in self.breaking if c.record is not Record.RECORDED)

    @property
    def ok(self) -> bool:
        return not self.unrecorded


# --- the old schema ------------------------------------------------------------


def load_old_schema(against: str, *, cwd: Path | None = None) -> OldSchema:
    """The SDL of ``against``: a file if there is one at that path, else a git revision."""
    path = Path(against)
    if cwd is not None and not path.is_absolute():
        path = cwd / path
    if path.is_file():
        try:
            return OldSchema(label=str(against), sdl=path.read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise SchemaSourceError(f"cannot read {against}: {exc}") from None
    if path.exists():
        raise SchemaSourceError(f"{against} is not a file")
    label = f"{against}:{SCHEMA_FILE}"
    try:
        shown = subprocess.run(
            ["git", "show", label],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SchemaSourceError(
            f"{against} is not a file, and git cannot be asked about it: {exc}"
        ) from None
    if shown.returncode != 0:
        said = shown.stderr.strip().splitlines()
        raise SchemaSourceError(
            f"{against} is neither a file nor a git revision with {SCHEMA_FILE}"
            + (f" (git: {said[0]})" if said else "")
        )
    return OldSchema(label=label, sdl=shown.stdout)


def build(sdl: str, label: str) -> GraphQLSchema:
    try:
        return build_schema(sdl)
    except (GraphQLError, TypeError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SchemaSourceError(f"{label} is not a valid GraphQL schema: {message}") from None


# --- the comparison ------------------------------------------------------------


def check_schema(old_sdl: str, new_sdl: str, changelog: str, *, old_label: str = "old") -> Report:
    """Breaking and dangerous changes from ``old_sdl`` to ``new_sdl``, breaking ones
    matched against the changelog's text (see the module's docstring for the rule)."""
    old = build(old_sdl, old_label)
    new = build(new_sdl, "the code's schema")
    entries = breaking_entries(changelog)
    breaking = tuple(
        _with_record(
            _change(c.type.name, c.description, old, new, removal=c.type in _REMOVALS), entries
        )
        for c in find_breaking_changes(old, new)
    )
    dangerous = tuple(
        _change(c.type.name, c.description, old, new, removal=False)
        for c in find_dangerous_changes(old, new)
    )
    return Report(breaking=breaking, dangerous=dangerous)


def _change(
    kind: str, description: str, old: GraphQLSchema, new: GraphQLSchema, *, removal: bool
) -> Change:
    coordinates: list[str] = []
    types: list[str] = []
    for token in _COORDINATE.findall(description):
        if token.startswith("@"):
            coordinates.append(token)
        elif "." in token:
            if token.split(".", 1)[0] in old.type_map or token.split(".", 1)[0] in new.type_map:
                coordinates.append(token)
        elif token in old.type_map or token in new.type_map:
            types.append(token)
    names: set[str] = set()
    for coordinate in coordinates:
        names.add(coordinate)
        bare = coordinate.split("(", 1)[0]  # Type.field(arg:) -> Type.field; @d(a:) -> @d
        names.add(bare)
        if not bare.startswith("@"):
            names.update(_type_names(bare.split(".", 1)[0]))
    custom = [t for t in types if not _is_builtin(t, old, new)]
    for type_name in custom or types:
        names.update(_type_names(type_name))
    subject = coordinates[0] if coordinates else (types[0] if types else description)
    note = _deprecation_note(old, coordinates[0]) if removal and coordinates else None
    return Change(kind, description, subject, frozenset(names), note)


def _type_names(type_name: str) -> set[str]:
    names = {type_name}
    for suffix in _CONNECTION_SUFFIXES:
        stem = type_name.removesuffix(suffix)
        if stem and stem != type_name:
            names.add(stem)
    return names


def _is_builtin(type_name: str, old: GraphQLSchema, new: GraphQLSchema) -> bool:
    named = old.type_map.get(type_name) or new.type_map.get(type_name)
    return named is not None and (is_specified_scalar_type(named) or type_name.startswith("__"))


def _deprecation_note(old: GraphQLSchema, coordinate: str) -> str | None:
    """Whether the old schema deprecated the removed field, argument or enum value."""
    match = re.fullmatch(rf"({_NAME})\.({_NAME})(?:\(({_NAME}):\))?", coordinate)
    if match is None:
        return None
    type_name, member, arg = match.groups()
    owner = old.type_map.get(type_name)
    element: object = None
    what = "field"
    if isinstance(owner, GraphQLEnumType):
        element, what = owner.values.get(member), "enum value"
    elif isinstance(owner, GraphQLInputObjectType):
        element, what = owner.fields.get(member), "input field"
    elif isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
        field = owner.fields.get(member)
        element = field
        if arg is not None:
            element, what = (field.args.get(arg) if field else None), "argument"
    if element is None:
        return None
    reason = getattr(element, "deprecation_reason", None)
    if reason is None:
        return (
            f"Not deprecated first: the old schema had no @deprecated on this {what}; "
            "removals go through @deprecated first."
        )
    return f"It was deprecated in the old schema ({reason})."


def _with_record(change: Change, entries: Sequence[Entry]) -> Change:
    naming = [e for e in entries if e.names & change.names]
    if any(e.has_reason for e in naming):
        record = Record.RECORDED
    elif naming:
        record = Record.NO_REASON
    else:
        record = Record.MISSING
    return Change(
        change.kind, change.description, change.subject, change.names, change.note, record
    )


# --- the changelog -------------------------------------------------------------


def breaking_entries(changelog: str) -> list[Entry]:
    """The ``**BREAKING:**`` bullets of the ``## Unreleased`` section, with their names."""
    entries: list[Entry] = []
    for lines in _bullets(_unreleased(changelog.splitlines())):
        text = " ".join(line.strip() for line in lines)
        marker = _MARKER.match(text)
        if marker is None:
            continue
        body = text[marker.end() :]
        names = frozenset(span.strip() for span in _CODE_SPAN.findall(body))
        prose = _CODE_SPAN.sub(" ", body)
        has_reason = len(_WORD.findall(prose)) >= MIN_REASON_WORDS
        entries.append(Entry(text=text, names=names, has_reason=has_reason))
    return entries


def _unreleased(lines: Iterable[str]) -> list[str]:
    section: list[str] = []
    inside = False
    for line in lines:
        if line.startswith("## ") or line.rstrip() == "##":
            inside = bool(_UNRELEASED.match(line.strip()))
            continue
        if inside:
            section.append(line)
    return section


def _bullets(lines: Sequence[str]) -> list[list[str]]:
    """Top-level bullets (``-`` or ``*`` at column 0) with their indented continuation."""
    bullets: list[list[str]] = []
    current: list[str] | None = None
    for line in lines:
        if re.match(r"[-*]\s", line):
            current = [line]
            bullets.append(current)
        elif current is not None and line[:1].isspace() and line.strip():
            current.append(line)
        else:
            current = None
    return bullets


# --- the report ----------------------------------------------------------------


def report_lines(report: Report, changelog_name: str) -> list[str]:
    """The changes, one line each: kind, description, and what the changelog says."""
    lines: list[str] = []
    if report.breaking:
        lines.append(f"Breaking changes ({len(report.breaking)}):")
        width = max(len(c.kind) for c in report.breaking)
        for change in report.breaking:
            line = f"  {change.kind:<{width}}  {change.description}"
            if change.note:
                line += f" {change.note}"
            line += f"  [{_record_text(change.record, changelog_name)}]"
            lines.append(line)
    if report.dangerous:
        lines.append(f"Dangerous changes ({len(report.dangerous)}), listed, never failing:")
        width = max(len(c.kind) for c in report.dangerous)
        lines.extend(f"  {c.kind:<{width}}  {c.description}" for c in report.dangerous)
    return lines


def _record_text(record: Record, changelog_name: str) -> str:
    if record is Record.RECORDED:
        return f"recorded in {changelog_name}"
    if record is Record.NO_REASON:
        return f"named in {changelog_name} without a reason"
    return f"not recorded in {changelog_name}"


def failure_message(report: Report, changelog_name: str) -> str:
    """What to do about the breaking changes the changelog does not record."""
    missing = report.unrecorded
    names = ", ".join(dict.fromkeys(f"`{c.subject}`" for c in missing))
    count = f"{len(missing)} breaking change{'s' if len(missing) != 1 else ''}"
    return (
        f"{count} not recorded in {changelog_name}: {names}. Record each under "
        '"## Unreleased" in a bullet starting "- **BREAKING:**" that names it in '
        "backticks (`Type.field` or the type) and says why (at least "
        f"{MIN_REASON_WORDS} words), or keep the old schema (deprecate with "
        "@deprecated before removing)."
    )
