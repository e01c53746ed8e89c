import { get, post } from "../api.js";
import { html, useEffect, useState } from "../html.js";
import { app, loadSeats, set, socket } from "../store.js";

async function enter(inviteUrl) {
  const token = inviteUrl.split("#")[1];
  await post("/api/v1/browser/join", { token });
  history.replaceState(null, "", "/");
  await loadSeats();
  socket.start();
}

export function OrganiserPage() {
  const [data, setData] = useState(null);
  const [created, setCreated] = useState(null);
  const [error, setError] = useState("");
  const refresh = () => get("/api/v1/organiser/rooms").then(setData).catch((e) => setError(e.message));
  useEffect(refresh, []);
  const create = async (e) => {
    e.preventDefault();
    setError("");
    try {
      const form = new FormData(e.target);
      const policy = {
        facilitator_reads_backchannels: form.get("reads_backchannels") === "on",
        facilitator_reads_caucuses: form.get("reads_caucuses") === "on",
      };
      setCreated(await post("/api/v1/organiser/rooms", { scenario: form.get("scenario"), policy }));
      refresh();
    } catch (exc) {
      setError(exc.message);
    }
  };
  if (!data) return html`<main class="single"><h1>Organiser</h1>${error ? html`<p role="alert" class="refusal">${error}</p>` : html`<p>Loading…</p>`}</main>`;
  const facilitator = created && created.seats.find((s) => s.role === "facilitator");
  return html`
    <main class="single" aria-label="Organiser">
      <h1>Rooms of ${data.name}</h1>
      <form class="card" aria-label="Create a room" onSubmit=${create}>
        <h2>Create a room</h2>
        <label>Scenario <select aria-label="Scenario" name="scenario">${data.scenarios.map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
        <fieldset>
          <legend>Room policy (fixed once the room exists)</legend>
          <label class="check"><input type="checkbox" name="reads_backchannels" checked /> The facilitator reads back-channels</label>
          <label class="check"><input type="checkbox" name="reads_caucuses" checked /> The facilitator reads caucuses</label>
        </fieldset>
        <button type="submit">Create room</button>
        ${error && html`<p role="alert" class="refusal">${error}</p>`}
      </form>
      ${created && html`
        <section class="card" aria-label="New room">
          <h2>${created.title}</h2>
          <p class="muted">Room ${created.room}. Invite links are shown once; hand each to its person.</p>
          <ul class="plain seats">${created.seats.map((s) => html`<li>
            <strong>${s.name}</strong> <span class="muted">${s.role}${s.party ? " · " + s.party : ""}</span>
            <div class="link"><input readonly value=${s.invite_url} aria-label=${"Invite link for " + s.name} />
            <button type="button" class="quiet" aria-label=${"Copy invite link for " + s.name} onClick=${() => navigator.clipboard && navigator.clipboard.writeText(s.invite_url).catch(() => {})}>Copy</button></div>
          </li>`)}</ul>
          ${facilitator && html`<button type="button" onClick=${() => enter(facilitator.invite_url).catch((e) => setError(e.message))}>Enter as facilitator</button>`}
        </section>`}
      <section class="card" aria-label="Your rooms">
        <h2>Your rooms</h2>
        ${data.rooms.length === 0 && html`<p class="empty">None yet.</p>`}
        <ul class="plain">${data.rooms.map((r) => html`<li><strong>${r.title}</strong> <span class="muted">${r.id} · ${r.scenario} · ${r.created_at.slice(0, 16).replace("T", " ")}</span></li>`)}</ul>
      </section>
      ${app.seats.length > 0 && html`<p><a href="/" onClick=${() => set({ mode: "room" })}>Back to your rooms</a></p>`}
    </main>`;
}
