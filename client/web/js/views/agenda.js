import { html } from "../html.js";
import { act, currentRoom, currentSeat } from "../store.js";
import { ErrorNote, partyName } from "./header.js";
import { formatValue } from "./proposals.js";

export function Agenda() {
  const room = currentRoom();
  const parties = Object.keys(room.parties);
  if (!room.agendaOrder.length) return html`<section aria-label="Agenda" class="panel"><h2>Agenda</h2><p class="empty">No issues on the agenda.</p></section>`;
  return html`
    <section aria-label="Agenda" class="panel">
      <h2>Agenda</h2>
      <table class="agenda">
        <caption class="sr-only">Each party's latest tabled position per issue</caption>
        <thead><tr><th scope="col">Issue</th>${parties.map((p) => html`<th scope="col"><abbr title=${partyName(room, p)}>${p.toUpperCase()}</abbr></th>`)}</tr></thead>
        <tbody>
          ${room.agendaOrder.map((id) => {
            const issue = room.agenda[id];
            const latest = room.latest[id] || {};
            return html`<tr><th scope="row">${issue.title}<span class="muted"> ${issue.type}${issue.unit ? ", " + issue.unit : ""}</span></th>
              ${parties.map((p) => html`<td>${formatValue(issue, latest[p] && latest[p].value)}</td>`)}</tr>`;
          })}
        </tbody>
      </table>
    </section>`;
}

export function Positions() {
  const room = currentRoom();
  const seat = currentSeat().seat;
  const own = seat.party && room.positions[seat.party];
  if (!own) return null;
  return html`
    <section aria-label="Confidential positions" class="panel confidential">
      <h2>Our confidential positions</h2>
      <p class="muted">Only your party sees these.</p>
      <table class="agenda">
        <thead><tr><th scope="col">Issue</th><th scope="col">Preferred</th><th scope="col">Reservation</th></tr></thead>
        <tbody>${Object.values(own).map((pos) => {
          const issue = room.agenda[pos.issue];
          return html`<tr><th scope="row">${issue ? issue.title : pos.issue}${pos.direction ? ` (${pos.direction})` : ""}</th>
            <td>${formatValue(issue, pos.preferred)}</td><td>${formatValue(issue, pos.reservation)}</td></tr>`;
        })}</tbody>
      </table>
    </section>`;
}

export function Coalitions() {
  const room = currentRoom();
  const seat = currentSeat().seat;
  const list = Object.values(room.coalitions);
  const declare = (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const parties = form.getAll("party");
    act("declare-coalition", { type: "declare_coalition", parties, name: String(form.get("name") || "") });
    e.target.reset();
  };
  return html`
    <section aria-label="Coalitions" class="panel">
      <h2>Coalitions</h2>
      ${list.length === 0 && html`<p class="empty">None declared.</p>`}
      <ul class="plain">${list.map((c) => html`<li>
        <strong>${c.name}</strong> ${c.parties.map((p) => partyName(room, p) + (c.joined.includes(p) ? "" : " (invited)")).join(", ")}
        ${seat.head && c.parties.includes(seat.party) && !c.joined.includes(seat.party) && html`
          <button type="button" onClick=${() => act("coalition-" + c.id, { type: "join_coalition", coalition: c.id })}>Join ${c.name}</button>`}
        <${ErrorNote} control=${"coalition-" + c.id} />
      </li>`)}</ul>
      ${seat.head && seat.role === "delegate" && html`
        <form aria-label="Declare a coalition" onSubmit=${declare}>
          <label>Coalition name <input name="name" /></label>
          <fieldset><legend>With</legend>${Object.values(room.parties).filter((p) => p.id !== seat.party).map((p) => html`
            <label class="check"><input type="checkbox" name="party" value=${p.id} /> ${p.name}</label>`)}</fieldset>
          <button type="submit">Declare coalition</button>
          <${ErrorNote} control="declare-coalition" />
        </form>`}
    </section>`;
}

export function Agreement() {
  const room = currentRoom();
  const seat = currentSeat().seat;
  const a = room.agreement;
  if (!a) return null;
  const signed = seat.party && a.signatures[seat.party];
  return html`
    <section aria-label="Agreement" class="panel">
      <h2>Agreement${a.concluded ? " (concluded)" : ""}</h2>
      <pre class="agreement">${a.text}</pre>
      <p class="hash">SHA-256 ${a.textSha256}</p>
      <ul class="plain">${a.parties.map((p) => html`<li>${partyName(room, p)}: ${a.signatures[p] ? `signed by ${a.signatures[p]}` : "not signed"}</li>`)}</ul>
      ${seat.head && seat.party && !signed && html`
        <button type="button" onClick=${() => act("sign", { type: "sign_agreement", agreement: a.id })}>Sign the agreement</button>`}
      <${ErrorNote} control="sign" />
    </section>`;
}
