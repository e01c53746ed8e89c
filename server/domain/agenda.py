"""The agenda: typed issues, the values a proposal may give them, and how far apart two are.

An issue is one of five types (DESIGN §4):

- ``number``: an integer in ``unit`` within ``[min, max]`` (records hold no floats, so a
  fraction is expressed in a smaller unit: per mille, hundreds of troops);
- ``date``: an ISO date ``YYYY-MM-DD`` within ``[min, max]``;
- ``choice``: one of ``options``;
- ``yesno``: ``true`` or ``false``;
- ``text``: free text.

Numbers and dates have a *range* (``max - min``, in days for dates), so a move on them has a
size between 0 and 1; moves on the other types are not measured (a head records them as
explicit concessions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction
from typing import Any

from server.domain.errors import Invalid

ISSUE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_ISSUES = 50
MAX_TEXT_VALUE = 2000

MAX_INTEGER = 2**53 - 1
"""Records are RFC 8785 JSON: integers stay within what every reader holds exactly."""

Value = int | str | bool
"""A term's value: int (number), ISO date or option or text (str), or bool (yes/no)."""


class IssueType(StrEnum):
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"
    YESNO = "yesno"
    TEXT = "text"


class Direction(StrEnum):
    """Which way a party would like a number or date to go."""

    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Issue:
    id: str
    title: str
    type: IssueType
    unit: str = ""
    min: Value | None = None
    max: Value | None = None
    options: tuple[str, ...] = ()

    @property
    def measured(self) -> bool:
        """A number or a date: moves on it have a direction and a size."""
        return self.type in (IssueType.NUMBER, IssueType.DATE)

    def as_body(self) -> dict[str, object]:
        body: dict[str, object] = {"id": self.id, "title": self.title, "type": self.type.value}
        if self.unit:
            body["unit"] = self.unit
        if self.min is not None:
            body["min"] = self.min
            body["max"] = self.max
        if self.options:
            body["options"] = list(self.options)
        return body


def _unicode(text: str) -> bool:
    """Valid Unicode: no lone surrogate (which no record can hold)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_issue(raw: object, where: str) -> Issue:
    """An issue from its JSON form; :class:`Invalid` names the field at fault."""
    if not isinstance(raw, Mapping):
        raise Invalid("an issue is an object", field=where)
    for key, value in raw.items():
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and not _unicode(t) for t in texts):
            raise Invalid(
                "text must be valid Unicode (it holds a lone surrogate)", field=f"{where}.{key}"
            )
    issue_id = raw.get("id")
    if not isinstance(issue_id, str) or not ISSUE_ID.match(issue_id):
        raise Invalid(
            "an issue id is 1 to 40 lower-case letters, digits, '-' or '_'", field=f"{where}.id"
        )
    title = raw.get("title", issue_id)
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise Invalid("an issue title has 1 to 200 characters", field=f"{where}.title")
    # Only a string can name a type; str() of anything else could walk a value nested as deep
    # as the parser reads, past the stack.
    types = [t.value for t in IssueType]
    raw_type = raw.get("type")
    if not isinstance(raw_type, str) or raw_type not in types:
        raise Invalid(f"an issue's type is one of {', '.join(types)}", field=f"{where}.type")
    kind = IssueType(raw_type)
    unit = raw.get("unit", "")
    if not isinstance(unit, str) or len(unit) > 40:
        raise Invalid("a unit is a text of at most 40 characters", field=f"{where}.unit")
    allowed = {"id", "title", "type", "unit", "min", "max", "options"}
    for key in raw:
        if key not in allowed:
            raise Invalid(f"an issue has no field {key!r}", field=f"{where}.{key}")
    if kind in (IssueType.NUMBER, IssueType.DATE):
        low = _bound(kind, raw.get("min"), f"{where}.min")
        high = _bound(kind, raw.get("max"), f"{where}.max")
        if _number(kind, high) <= _number(kind, low):
            raise Invalid("max must be above min", field=f"{where}.max")
        return Issue(issue_id, title, kind, unit, low, high)
    if "min" in raw or "max" in raw:
        raise Invalid(f"a {kind} issue has no range", field=f"{where}.min")
    options: tuple[str, ...] = ()
    if kind == IssueType.CHOICE:
        raw_options = raw.get("options")
        if (
            not isinstance(raw_options, list)
            or len(raw_options) < 2
            or len(raw_options) > 20
            or not all(isinstance(o, str) and o.strip() and len(o) <= 100 for o in raw_options)
            or len(set(raw_options)) != len(raw_options)
        ):
            raise Invalid(
                "a choice has 2 to 20 distinct options of 1 to 100 characters",
                field=f"{where}.options",
            )
        options = tuple(raw_options)
    elif "options" in raw:
        raise Invalid(f"a {kind} issue has no options", field=f"{where}.options")
    return Issue(issue_id, title, kind, unit, options=options)


def parse_agenda(raw: object, where: str = "agenda") -> tuple[Issue, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_ISSUES:
        raise Invalid(f"an agenda is a list of at most {MAX_ISSUES} issues", field=where)
    issues = tuple(parse_issue(item, f"{where}.{i}") for i, item in enumerate(raw))
    seen: set[str] = set()
    for i, issue in enumerate(issues):
        if issue.id in seen:
            raise Invalid(f"issue {issue.id!r} is on the agenda twice", field=f"{where}.{i}.id")
        seen.add(issue.id)
    return issues


def _bound(kind: IssueType, raw: object, where: str) -> Value:
    if raw is None:
        raise Invalid(f"a {kind} issue needs min and max", field=where)
    name = where.rsplit(".", 1)[-1]
    return check_value(Issue(name, name, kind), raw, where)


def check_value(issue: Issue, raw: object, where: str) -> Value:
    """``raw`` as a value of ``issue``, or :class:`Invalid` naming ``where``."""
    match issue.type:
        case IssueType.NUMBER:
            if not isinstance(raw, int) or isinstance(raw, bool):
                raise Invalid(f"{issue.id} takes an integer", field=where)
            if abs(raw) > MAX_INTEGER:
                raise Invalid(f"{issue.id} takes an integer within ±(2**53 - 1)", field=where)
            value: Value = raw
        case IssueType.DATE:
            if not isinstance(raw, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                raise Invalid(f"{issue.id} takes a date as YYYY-MM-DD", field=where)
            try:
                date.fromisoformat(raw)
            except ValueError:
                raise Invalid(f"{raw!r} is not a date", field=where) from None
            value = raw
        case IssueType.CHOICE:
            if raw not in issue.options:
                raise Invalid(f"{issue.id} takes one of {', '.join(issue.options)}", field=where)
            assert isinstance(raw, str)
            value = raw
        case IssueType.YESNO:
            if not isinstance(raw, bool):
                raise Invalid(f"{issue.id} takes true or false", field=where)
            value = raw
        case IssueType.TEXT:
            if (
                not isinstance(raw, str)
                or not raw.strip()
                or len(raw) > MAX_TEXT_VALUE
                or not _unicode(raw)
            ):
                raise Invalid(
                    f"{issue.id} takes a text of 1 to {MAX_TEXT_VALUE} characters", field=where
                )
            value = raw
    if issue.min is not None and issue.max is not None:
        n = _number(issue.type, value)
        if not _number(issue.type, issue.min) <= n <= _number(issue.type, issue.max):
            raise Invalid(f"{issue.id} lies between {issue.min} and {issue.max}", field=where)
    return value


def check_terms(agenda: Mapping[str, Issue], raw: object, where: str = "terms") -> dict[str, Value]:
    """A proposal's terms: a value for some issues of the agenda."""
    if not isinstance(raw, Mapping):
        raise Invalid("terms map issue ids to values", field=where)
    terms: dict[str, Value] = {}
    for issue_id, value in raw.items():
        issue = agenda.get(issue_id)
        if issue is None:
            raise Invalid(f"no issue {issue_id!r} on the agenda", field=f"{where}.{issue_id}")
        terms[issue_id] = check_value(issue, value, f"{where}.{issue_id}")
    return terms


def _number(kind: IssueType, value: Value) -> int:
    if kind == IssueType.DATE:
        assert isinstance(value, str)
        return date.fromisoformat(value).toordinal()
    assert isinstance(value, int)
    return value


def measure(issue: Issue, value: Value) -> int:
    """A number or date value as an integer on the issue's scale (days for dates)."""
    if not issue.measured:
        raise ValueError(f"{issue.type} issues have no measure")
    return _number(issue.type, value)


def span(issue: Issue) -> int:
    """The issue's range on its scale (always positive)."""
    assert issue.min is not None and issue.max is not None
    return measure(issue, issue.max) - measure(issue, issue.min)


def size(issue: Issue, before: Value, after: Value) -> Fraction:
    """How far a move from ``before`` to ``after`` goes, as a fraction of the issue's range."""
    return Fraction(abs(measure(issue, after) - measure(issue, before)), span(issue))


def decimal_text(fraction: Fraction, places: int = 4) -> str:
    """A fraction as a decimal string (records hold no floats), rounded half up."""
    scaled = (fraction * 10**places * 2 + 1) // 2
    whole, part = divmod(int(scaled), 10**places)
    return f"{whole}.{part:0{places}d}"


def difference(issue: Issue, a: Value | None, b: Value | None) -> dict[str, Any]:
    """One row of a term-by-term comparison of ``a`` (older) and ``b`` (newer)."""
    row: dict[str, Any] = {"issue": issue.id, "title": issue.title, "from": a, "to": b}
    row["changed"] = a != b
    if issue.measured and a is not None and b is not None and a != b:
        delta = measure(issue, b) - measure(issue, a)
        row["delta"] = delta
        row["size"] = decimal_text(Fraction(abs(delta), span(issue)))
    return row
