"""The agreement's text and its documents (Markdown and HTML), rendered from the room's state.

:func:`agreement_text` is what each head signs: its SHA-256 is in the ``agreement_reached``
record and in every signature, so a signature binds to these exact bytes. The documents add
the signatories and times; every value from the log is escaped in the HTML (text, never
markup).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from html import escape

from server.domain.agenda import Issue, Value
from server.domain.room import RoomState


def _md(text: str) -> str:
    """Text from the log as Markdown that means only itself: one line, no markup, no HTML."""
    flat = "".join(" " if ord(c) < 32 else c for c in text)
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        flat = flat.replace(raw, safe)
    return flat


def _value(issue: Issue | None, value: Value) -> str:
    if isinstance(value, bool):
        text = "yes" if value else "no"
    else:
        text = str(value)
    if issue is not None and issue.unit:
        text = f"{text} {issue.unit}"
    return text


def agreement_text(
    room: RoomState, terms: Mapping[str, Value], clauses: Sequence[str], parties: Sequence[str]
) -> str:
    """The text the parties sign, in Markdown (deterministic: the same inputs, the same bytes)."""
    names = [_md(room.parties[p].name if p in room.parties else p) for p in parties]
    title = _md(room.title)
    lines = [f"# Agreement: {title}", "", "Between " + ", ".join(names) + ".", "", "## Terms"]
    lines.append("")
    ordered = [i for i in room.agenda if i in terms] + sorted(
        t for t in terms if t not in room.agenda
    )
    for issue_id in ordered:
        issue = room.agenda.get(issue_id)
        name = issue.title if issue is not None else issue_id
        lines.append(f"- {_md(name)}: {_md(_value(issue, terms[issue_id]))}")
    if clauses:
        lines += ["", "## Clauses", ""]
        lines += [f"{n}. {_md(clause)}" for n, clause in enumerate(clauses, 1)]
    return "\n".join(lines) + "\n"


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _signatories(room: RoomState, times: Mapping[int, str]) -> list[tuple[str, str, str]]:
    agreement = room.agreement
    assert agreement is not None
    out = []
    for party in agreement.parties:
        name = room.parties[party].name if party in room.parties else party
        signed = agreement.signatures.get(party)
        if signed is None:
            out.append((name, "", "not signed yet"))
        else:
            out.append((name, signed[0], times.get(signed[1], "")))
    return out


def document_markdown(room: RoomState, times: Mapping[int, str]) -> str:
    """The agreement as a Markdown document: the signed text, then who signed and when."""
    agreement = room.agreement
    if agreement is None:
        raise ValueError("no agreement in this room")
    lines = [agreement.text.rstrip("\n"), "", "## Signatures", ""]
    lines.append("| Party | Signed by | Time |")
    lines.append("|---|---|---|")
    for party, name, when in _signatories(room, times):
        lines.append(f"| {_md(party)} | {_md(name)} | {_md(when)} |")
    lines += [
        "",
        f"Agreed at {times.get(agreement.seq, '')} (event {agreement.seq}, proposal "
        f"{agreement.proposal}). SHA-256 of the signed text: `{agreement.text_sha256}`.",
    ]
    return "\n".join(lines) + "\n"


def document_html(room: RoomState, times: Mapping[int, str]) -> str:
    """The same document as a self-contained HTML page (no scripts, every value escaped)."""
    agreement = room.agreement
    if agreement is None:
        raise ValueError("no agreement in this room")
    names = [room.parties[p].name if p in room.parties else p for p in agreement.parties]
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Agreement: {escape(room.title)}</title></head><body>",
        f"<h1>Agreement: {escape(room.title)}</h1>",
        f"<p>Between {escape(', '.join(names))}.</p>",
        "<h2>Terms</h2><dl>",
    ]
    ordered = [i for i in room.agenda if i in agreement.terms]
    ordered += sorted(t for t in agreement.terms if t not in room.agenda)
    for issue_id in ordered:
        value = agreement.terms[issue_id]
        issue = room.agenda.get(issue_id)
        title = issue.title if issue is not None else issue_id
        out.append(f"<dt>{escape(title)}</dt><dd>{escape(_value(issue, value))}</dd>")
    out.append("</dl>")
    if agreement.clauses:
        out.append("<h2>Clauses</h2><ol>")
        out += [f"<li>{escape(clause)}</li>" for clause in agreement.clauses]
        out.append("</ol>")
    out.append("<h2>Signatures</h2><table><tr><th>Party</th><th>Signed by</th><th>Time</th></tr>")
    for party, name, when in _signatories(room, times):
        out.append(
            f"<tr><td>{escape(party)}</td><td>{escape(name)}</td><td>{escape(when)}</td></tr>"
        )
    out.append("</table>")
    out.append(
        f"<p>Agreed at {escape(times.get(agreement.seq, ''))} (event {agreement.seq}, proposal "
        f"{escape(agreement.proposal)}). SHA-256 of the signed text: "
        f"<code>{escape(agreement.text_sha256)}</code>.</p>"
    )
    out.append("</body></html>")
    return "\n".join(out) + "\n"
