import { html, useState } from "../html.js";
import { OPEN_STATUSES, proposalStatus } from "../state.js";
import { act, app, currentRoom, currentSeat } from "../store.js";
import { ErrorNote, partyName } from "./header.js";

export function formatValue(issue, value) {
  if (value === undefined || value === null) return "—";
  if (issue && issue.type === "yesno") return value ? "yes" : "no";
  if (issue && issue.type === "number" && issue.unit) return `${value.toLocaleString("en")} ${issue.unit}`;
  return String(value);
}

function TermRows({ room, p }) {
  const parent = p.parent ? room.proposals[p.parent] : null;
  const issues = [...new Set([...Object.keys(p.terms), ...(parent ? Object.keys(parent.terms) : [])])];
  return html`
    <table class="terms">
      <caption class="sr-only">Terms${parent ? " compared with the proposal it counters" : ""}</caption>
      <thead><tr><th scope="col">Issue</th><th scope="col">Proposed</th>${parent && html`<th scope="col">Before</th>`}</tr></thead>
      <tbody>
        ${issues.map((id) => {
          const issue = room.agenda[id];
          const changed = parent && JSON.stringify(parent.terms[id]) !== JSON.stringify(p.terms[id]);
          return html`<tr class=${changed ? "changed" : ""}>
            <th scope="row">${issue ? issue.title : id}</th>
            <td>${formatValue(issue, p.terms[id])}${changed ? html` <span class="tag">changed</span>` : ""}</td>
            ${parent && html`<td class="muted">${formatValue(issue, parent.terms[id])}</td>`}
          </tr>`;
        })}
      </tbody>
    </table>`;
}

function ProposalCard({ room, p }) {
  const seat = currentSeat().seat;
  const [reason, setReason] = useState("");
  const status = proposalStatus(room, p);
  const thread = room.threads[p.thread];
  const parties = thread && thread.kind !== "plenary" ? thread.parties : Object.keys(room.parties);
  const mine = seat.party && p.sponsors.includes(seat.party);
  const canAnswer = seat.head && seat.party && parties.includes(seat.party) && !mine && OPEN_STATUSES.has(status);
  const control = "proposal-" + p.id;
  const moves = room.moves.filter((m) => m.proposal === p.id);
  const answer = (kind) => act(control, { type: "answer_proposal", proposal: p.id, answer: kind, reason });
  const sponsors = p.sponsors.length ? p.sponsors.map((x) => partyName(room, x)).join(" & ") : "Mediator";
  return html`
    <article class="card proposal" aria-label=${"Proposal " + (p.title || p.id)}>
      <header>
        <h3>${p.title || "Untitled proposal"}</h3>
        <span class=${"status status-" + status}>${status.replaceAll("_", " ")}</span>
      </header>
      <p class="muted">${sponsors}${p.parent ? " · counter-proposal" : ""} · ${p.stage}</p>
      <${TermRows} room=${room} p=${p} />
      ${p.clauses.length > 0 && html`<ol class="clauses">${p.clauses.map((c) => html`<li>${c}</li>`)}</ol>`}
      ${moves.length > 0 && html`<ul class="moves">${moves.map((m) => html`
        <li class=${m.kind}><strong>${m.kind === "concession" ? "Concession" : "Retraction"}</strong>
          ${" "}${partyName(room, m.party)} on ${(room.agenda[m.issue] || {}).title || m.issue}: ${formatValue(room.agenda[m.issue], m.from)} → ${formatValue(room.agenda[m.issue], m.to)}</li>`)}</ul>`}
      <ul class="answers" aria-label="Answers">
        ${Object.entries(p.answers).map(([party, a]) => html`<li><strong>${partyName(room, party)}</strong> ${a.answer}${a.reason ? `: ${a.reason}` : ""}</li>`)}
      </ul>
      ${canAnswer && html`
        <div class="actions">
          <label>Reason <input value=${reason} onInput=${(e) => setReason(e.target.value)} /></label>
          <button type="button" onClick=${() => answer("accept")}>Accept</button>
          <button type="button" class="quiet" onClick=${() => answer("reserve")}>Reserve</button>
          <button type="button" class="danger" onClick=${() => answer("reject")}>Reject</button>
        </div>`}
      ${p.draft && seat.head && p.sponsors.includes(seat.party) && !p.endorsed.includes(seat.party) && html`
        <button type="button" onClick=${() => act(control, { type: "endorse_proposal", proposal: p.id })}>Endorse joint proposal</button>`}
      ${mine && seat.head && !p.withdrawn && status !== "superseded" && html`
        <button type="button" class="quiet" onClick=${() => act(control, { type: "withdraw_proposal", proposal: p.id })}>Withdraw</button>`}
      <${ErrorNote} control=${control} />
    </article>`;
}

export function ProposalList() {
  const room = currentRoom();
  const open = app.thread[app.current] || "plenary";
  const shown = room.proposalOrder.map((id) => room.proposals[id]).filter((p) => p.thread === open);
  return html`
    <section aria-label="Proposals" class="panel">
      <h2>Proposals</h2>
      ${shown.length === 0 && html`<p class="empty">No proposals in this thread.</p>`}
      ${shown.slice().reverse().map((p) => html`<${ProposalCard} key=${p.id} room=${room} p=${p} />`)}
    </section>`;
}

export function TableProposal() {
  const open = app.thread[app.current] || "plenary";
  return html`<${ProposalComposer} thread=${open} />`;
}

function IssueInput({ issue }) {
  const name = "term-" + issue.id;
  const label = issue.title + (issue.unit ? ` (${issue.unit})` : "");
  if (issue.type === "number") return html`<label>${label}<input name=${name} type="number" step="1" min=${issue.min} max=${issue.max} /></label>`;
  if (issue.type === "date") return html`<label>${label}<input name=${name} type="date" min=${issue.min} max=${issue.max} /></label>`;
  if (issue.type === "text") return html`<label>${label}<input name=${name} /></label>`;
  const options = issue.type === "yesno" ? [["true", "yes"], ["false", "no"]] : (issue.options || []).map((o) => [o, o]);
  return html`<label>${label}<select aria-label=${label} name=${name}><option value="">—</option>${options.map(([v, t]) => html`<option value=${v}>${t}</option>`)}</select></label>`;
}

function termValue(issue, raw) {
  if (raw === "") return undefined;
  if (issue.type === "number") return parseInt(raw, 10);
  if (issue.type === "yesno") return raw === "true";
  return raw;
}

function ProposalComposer({ thread }) {
  const room = currentRoom();
  const seat = currentSeat().seat;
  const mayTable = (seat.role === "delegate" && seat.head) || (seat.role === "facilitator" && thread === "plenary");
  if (!mayTable) return null;
  const siblings = room.proposalOrder.map((id) => room.proposals[id]).filter((p) => p.thread === thread && !p.draft);
  const coalitions = Object.values(room.coalitions).filter((c) => seat.party && c.parties.includes(seat.party));
  const submit = (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const terms = {};
    for (const id of room.agendaOrder) {
      const value = termValue(room.agenda[id], String(form.get("term-" + id) || ""));
      if (value !== undefined) terms[id] = value;
    }
    const clauses = String(form.get("clauses") || "").split("\n").map((c) => c.trim()).filter(Boolean);
    const command = { type: "table_proposal", thread, terms, clauses, title: String(form.get("title") || "") };
    if (form.get("parent")) command.parent = form.get("parent");
    if (form.get("coalition")) command.coalition = form.get("coalition");
    act("table-proposal", command);
    e.target.reset();
  };
  return html`
    <form class="card" aria-label="Table a proposal" onSubmit=${submit}>
      <h3>Table a proposal</h3>
      <label>Title <input name="title" maxlength="200" /></label>
      ${room.agendaOrder.map((id) => html`<${IssueInput} key=${id} issue=${room.agenda[id]} />`)}
      <label>Clauses, one per line <textarea name="clauses" rows="2"></textarea></label>
      ${siblings.length > 0 && html`<label>Counter to <select aria-label="Counter to" name="parent"><option value="">— none —</option>
        ${siblings.map((p) => html`<option value=${p.id}>${p.title || p.id}</option>`)}</select></label>`}
      ${coalitions.length > 0 && html`<label>Joint proposal of <select aria-label="Joint proposal of" name="coalition"><option value="">— my party only —</option>
        ${coalitions.map((c) => html`<option value=${c.id}>${c.name}</option>`)}</select></label>`}
      <button type="submit">Table proposal</button>
      <${ErrorNote} control="table-proposal" />
    </form>`;
}
