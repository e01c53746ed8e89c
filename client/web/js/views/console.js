import { get, post, room as roomPath } from "../api.js";
import { html, useEffect, useState } from "../html.js";
import { act, currentRoom, currentSeat, showError } from "../store.js";
import { ErrorNote, partyName } from "./header.js";
import { threadTitle } from "./threads.js";

/** In a room without a facilitator, the heads move the stage by consent (every party). */
export function StageConsent() {
  const room = currentRoom();
  const seat = currentSeat().seat;
  const hasFacilitator = Object.values(room.seats).some((s) => s.role === "facilitator");
  if (hasFacilitator || seat.role !== "delegate") return null;
  const next = room.stages[room.stages.indexOf(room.stage) + 1];
  const consents = Object.entries(room.consents);
  return html`
    <section aria-label="Stage" class="panel">
      <h2>Stage</h2>
      <p>No facilitator: the stage moves when every party's head consents.</p>
      <ul class="plain">${consents.map(([party, to]) => html`<li>${partyName(room, party)} consents to ${to}</li>`)}</ul>
      ${seat.head && next && room.consents[seat.party] !== next && html`
        <button type="button" onClick=${() => act("consent", { type: "consent_stage", to: next })}>Consent to ${next}</button>`}
      <${ErrorNote} control="consent" />
    </section>`;
}

export function StageControl() {
  const room = currentRoom();
  const [to, setTo] = useState("");
  const next = room.stages[room.stages.indexOf(room.stage) + 1] || room.stage;
  const target = to || next;
  return html`
    <section aria-label="Stage" class="panel">
      <h2>Stage</h2>
      <ol class="stages">${room.stages.map((s) => html`<li class=${s === room.stage ? "now" : ""} aria-current=${s === room.stage ? "step" : "false"}>${s}</li>`)}</ol>
      <label>Move to <select aria-label="Move to" value=${target} onChange=${(e) => setTo(e.target.value)}>
        ${room.stages.map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
      <button type="button" onClick=${() => act("stage", { type: "change_stage", to: target })}>Change stage</button>
      <${ErrorNote} control="stage" />
    </section>`;
}

function copy(text) {
  if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
}

export function Seats() {
  const room = currentRoom();
  const [links, setLinks] = useState({});
  const [seats, setSeats] = useState([]);
  useEffect(() => {
    get(roomPath(room.id, "/seats")).then((b) => setSeats(b.seats)).catch((e) => showError("seats", e.message));
  }, [room.id, Object.keys(room.seats).length]);
  const rotate = async (seat, show) => {
    try {
      const path = `/seats/${encodeURIComponent(seat)}/${show ? "invite" : "revoke"}`;
      const answer = await post(roomPath(room.id, path));
      setLinks({ ...links, [seat]: show ? answer.invite_url : "revoked" });
    } catch (exc) {
      showError("seat-" + seat, exc.message);
    }
  };
  return html`
    <section aria-label="Seats" class="panel">
      <h2>Seats</h2>
      <${ErrorNote} control="seats" />
      <ul class="plain seats">${seats.map((s) => html`<li>
        <div><strong>${s.name}</strong> <span class="muted">${s.role}${s.party ? " · " + partyName(room, s.party) : ""}</span></div>
        ${links[s.id] && links[s.id] !== "revoked" && html`<div class="link"><input readonly value=${links[s.id]} aria-label=${"Invite link for " + s.name} />
          <button type="button" class="quiet" onClick=${() => copy(links[s.id])} aria-label=${"Copy invite link for " + s.name}>Copy</button></div>`}
        ${links[s.id] === "revoked" && html`<p class="muted">Invite revoked: its link and sessions no longer work.</p>`}
        <button type="button" class="quiet" onClick=${() => rotate(s.id, true)} aria-label=${"New invite link for " + s.name}>New link</button>
        <button type="button" class="quiet danger" onClick=${() => rotate(s.id, false)} aria-label=${"Revoke invite of " + s.name}>Revoke</button>
        <${ErrorNote} control=${"seat-" + s.id} />
      </li>`)}</ul>
    </section>`;
}

export function Disclosure() {
  const room = currentRoom();
  const closed = room.threadOrder.map((id) => room.threads[id]).filter((t) => t.kind !== "plenary");
  const policy = room.policy || {};
  return html`
    <section aria-label="Disclosure and policy" class="panel">
      <h2>Disclosure</h2>
      ${closed.length === 0 && html`<p class="empty">No caucus or back-channel to disclose.</p>`}
      <ul class="plain">${closed.map((t) => html`<li>
        <strong>${threadTitle(room, t)}</strong> <span class="muted">${t.disclosedTo ? "disclosed to " + t.disclosedTo : "private"}</span>
        ${t.disclosedTo !== "everyone" && html`<span class="row">
          ${!t.disclosedTo && html`<button type="button" class="quiet" onClick=${() => act("disclose-" + t.id, { type: "disclose_thread", thread: t.id, to: "observers" })}>Disclose to observers</button>`}
          <button type="button" class="quiet" onClick=${() => act("disclose-" + t.id, { type: "disclose_thread", thread: t.id, to: "everyone" })}>Disclose to everyone</button></span>`}
        <${ErrorNote} control=${"disclose-" + t.id} />
      </li>`)}</ul>
      <h3>Room policy</h3>
      <ul class="plain">
        <li>Facilitator reads back-channels: ${policy.facilitator_reads_backchannels === false ? "no" : "yes"}</li>
        <li>Facilitator reads caucuses: ${policy.facilitator_reads_caucuses === false ? "no" : "yes"}</li>
      </ul>
    </section>`;
}

export function Counts() {
  const room = currentRoom();
  const parties = [...Object.keys(room.parties), "facilitator"];
  return html`
    <section aria-label="Activity" class="panel">
      <h2>Activity</h2>
      <table class="agenda">
        <caption class="sr-only">Messages and proposals per thread and party</caption>
        <thead><tr><th scope="col">Thread</th>${parties.map((p) => html`<th scope="col">${p === "facilitator" ? "Facilitator" : partyName(room, p)}</th>`)}</tr></thead>
        <tbody>${room.threadOrder.map((id) => {
          const c = room.counts[id] || { byParty: {} };
          return html`<tr><th scope="row">${threadTitle(room, room.threads[id])}</th>${parties.map((p) => {
            const x = c.byParty[p] || { messages: 0, proposals: 0 };
            return html`<td>${x.messages} msg · ${x.proposals} prop</td>`;
          })}</tr>`;
        })}</tbody>
      </table>
    </section>`;
}
