import { html, useState } from "../html.js";
import { currentRoom } from "../store.js";
import { partyName } from "./header.js";
import { threadTitle } from "./threads.js";

function describe(room, e) {
  if (e.sealed) return "Sealed entry";
  const b = e.record.body;
  switch (e.kind) {
    case "message_posted": return b.text;
    case "proposal_tabled": case "proposal_drafted": return `Proposal: ${b.proposal.title || b.proposal.id}`;
    case "proposal_answered": return `${b.answer} ${b.proposal}${b.reason ? ` (${b.reason})` : ""}`;
    case "stage_changed": return `Stage: ${b.to}`;
    case "seat_joined": return `${b.seat.name} (${b.seat.role})`;
    case "thread_opened": return `Thread opened: ${b.thread.title || b.thread.kind}`;
    case "concession_recorded": case "retraction_recorded": return `${b.issue || ""} ${b.from ?? ""} → ${b.to ?? ""} ${b.description || ""}`;
    case "room_created": return b.title;
    default: return "";
  }
}

export const emptyFilters = { stage: "", party: "", thread: "", kind: "" };

export function applyFilters(entries, f) {
  return entries.filter((e) =>
    (!f.stage || e.stage === f.stage) &&
    (!f.kind || e.kind === f.kind) &&
    (!f.party || (e.record && e.record.actor.party === f.party)) &&
    (!f.thread || (e.record && e.record.thread === f.thread)));
}

export function Filters({ filters, onChange }) {
  const room = currentRoom();
  const kinds = [...new Set(room.timeline.map((e) => e.kind))].sort();
  const field = (name, label, options) => html`
    <label>${label}
      <select aria-label=${label} value=${filters[name]} onChange=${(e) => onChange({ ...filters, [name]: e.target.value })}>
        <option value="">All</option>
        ${options.map(([v, t]) => html`<option value=${v}>${t}</option>`)}
      </select>
    </label>`;
  return html`
    <form class="panel filters" aria-label="Filter the log" onSubmit=${(e) => e.preventDefault()}>
      <h2>Filter</h2>
      ${field("stage", "Stage", room.stages.map((s) => [s, s]))}
      ${field("party", "Party", Object.values(room.parties).map((p) => [p.id, p.name]))}
      ${field("thread", "Thread", room.threadOrder.map((id) => [id, threadTitle(room, room.threads[id])]))}
      ${field("kind", "Kind", kinds.map((k) => [k, k.replaceAll("_", " ")]))}
    </form>`;
}

export function Timeline({ entries, failed }) {
  const room = currentRoom();
  const [shown, setShown] = useState(300);
  const visible = entries.slice(-shown);
  return html`
    <main class="center" aria-label="Audit log">
      <div class="pane-head"><h2>Audit log</h2><span class="muted">${entries.length} entries shown of ${room.timeline.length}</span></div>
      <div class="timeline" role="log" aria-label="Log entries" tabindex="0">
        ${entries.length > shown && html`<button type="button" class="quiet more" onClick=${() => setShown(shown + 300)}>Show earlier entries</button>`}
        ${visible.map((e) => html`
          <article class=${"entry" + (e.sealed ? " sealed" : "") + (failed === e.seq ? " bad" : "")} aria-label=${"Entry " + e.seq}>
            <header>
              <span class="seq">#${e.seq}</span>
              <span class="kind">${e.kind.replaceAll("_", " ")}</span>
              <span class="tag">${e.stage}</span>
              ${e.record && e.record.actor.party && html`<span class="party">${partyName(room, e.record.actor.party)}</span>`}
              ${e.record && e.record.thread && room.threads[e.record.thread] && html`<span class="muted">${threadTitle(room, room.threads[e.record.thread])}</span>`}
              <time datetime=${e.ts}>${e.ts.slice(0, 19).replace("T", " ")}</time>
            </header>
            <p class=${e.sealed ? "hash" : "text"}>${e.sealed ? `Sealed · leaf ${e.leafHash}` : describe(room, e)}</p>
            ${failed === e.seq && html`<p class="refusal">This entry failed verification.</p>`}
          </article>`)}
      </div>
    </main>`;
}
