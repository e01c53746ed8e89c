import { html } from "../html.js";
import { app, currentRoom, currentSeat, signOut, switchRoom } from "../store.js";

const CONNECTION = {
  connecting: "Connecting…",
  live: "Live",
  offline: "Offline",
  reconnecting: "Reconnecting…",
  ended: "Session ended",
  "signed-out": "Signed out",
  "no-seat": "No seat",
  "not-connected": "Not connected",
};

export function partyName(room, party) {
  return (room && room.parties[party] && room.parties[party].name) || party || "—";
}

function unreadIn(roomId) {
  const room = app.rooms[roomId];
  const n = room ? Object.values(room.unread).reduce((a, b) => a + b, 0) : 0;
  return roomId !== app.current && n ? ` (${n} unread)` : "";
}

export function Header() {
  const room = currentRoom();
  const seat = currentSeat();
  const queued = app.connection === "live" ? 0 : app.queued || 0; // live: answered in ms
  return html`
    <header class="topbar">
      <div class="brand">Parley</div>
      ${room && seat && html`
        <dl class="facts" aria-label="Your seat">
          <div><dt>Room</dt><dd>${room.title || room.id}</dd></div>
          <div><dt>Role</dt><dd>${seat.seat.role}${seat.seat.head ? " (head)" : ""}</dd></div>
          <div><dt>Party</dt><dd>${seat.seat.party ? partyName(room, seat.seat.party) : "—"}</dd></div>
          <div><dt>Stage</dt><dd>${room.stage}</dd></div>
        </dl>`}
      <div class="session">
        <span role="status" aria-label="Connection" class=${"conn conn-" + app.connection}>
          ${CONNECTION[app.connection] || app.connection}${app.connectionDetail ? ` (${app.connectionDetail})` : ""}${queued ? ` · ${queued} waiting to send` : ""}
        </span>
        ${app.seats.length > 1 && html`
          <label class="switch">Room
            <select aria-label="Room" value=${app.current} onChange=${(e) => switchRoom(e.target.value)}>
              ${app.seats.map((s) => html`<option value=${s.room}>${s.title} — ${s.seat.name}${unreadIn(s.room)}</option>`)}
            </select>
          </label>`}
        ${app.seats.length > 0 && html`<button type="button" class="quiet" onClick=${signOut}>Sign out</button>`}
      </div>
    </header>`;
}

export function ErrorNote({ control }) {
  const message = app.errors[control];
  return message ? html`<p class="refusal" role="alert">${message}</p>` : null;
}
