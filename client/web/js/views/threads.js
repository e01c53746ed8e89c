import { html, useState } from "../html.js";
import { visibleThreads } from "../state.js";
import { act, app, currentRoom, currentSeat, openThread } from "../store.js";
import { ErrorNote, partyName } from "./header.js";

const KIND = { plenary: "Plenary", backchannel: "Back-channel", caucus: "Caucus" };

export function threadTitle(room, t) {
  if (t.kind === "plenary") return "Plenary";
  if (t.title) return t.title;
  return `${KIND[t.kind]}: ${t.parties.map((p) => partyName(room, p)).join(", ")}`;
}

export function ThreadList() {
  const room = currentRoom();
  const open = app.thread[app.current] || "plenary";
  return html`
    <nav aria-label="Threads" class="panel">
      <h2>Threads</h2>
      <ul class="threads">
        ${visibleThreads(room, currentSeat().seat).map((t) => {
          const id = t.id;
          const unread = room.unread[id] || 0;
          const declined = t.kind === "backchannel" && t.declined;
          const pending = t.kind === "backchannel" && !declined && t.accepted.length < t.parties.length;
          return html`<li>
            <button type="button" class=${id === open ? "thread current" : "thread"} aria-current=${id === open ? "true" : "false"}
              aria-label=${threadTitle(room, t) + (declined ? ", declined" : "") + (unread ? `, ${unread} unread` : "")} onClick=${() => openThread(id)}>
              <span class="kind">${KIND[t.kind]}</span>
              <span class="name">${threadTitle(room, t)}</span>
              ${pending && html`<span class="tag">pending</span>`}
              ${declined && html`<span class="tag">declined</span>`}
              ${unread > 0 && html`<span class="badge" aria-hidden="true">${unread}</span>`}
            </button>
          </li>`;
        })}
      </ul>
      <${OpenBackchannel} />
    </nav>`;
}

function OpenBackchannel() {
  const room = currentRoom();
  const seat = currentSeat().seat;
  const [title, setTitle] = useState("");
  if (seat.role !== "delegate" || !seat.head) return null;
  const others = Object.values(room.parties).filter((p) => p.id !== seat.party);
  const submit = (e) => {
    e.preventDefault();
    const parties = [...e.target.querySelectorAll("input[type=checkbox]:checked")].map((c) => c.value);
    act("open-backchannel", { type: "open_backchannel", parties, title });
    e.target.reset();
    setTitle("");
  };
  return html`
    <form class="card" aria-label="Open a back-channel" onSubmit=${submit}>
      <h3>Open a back-channel</h3>
      <fieldset><legend>With</legend>
        ${others.map((p) => html`<label class="check"><input type="checkbox" value=${p.id} /> ${p.name}</label>`)}
      </fieldset>
      <label>Title <input value=${title} onInput=${(e) => setTitle(e.target.value)} maxlength="200" /></label>
      <button type="submit">Open back-channel</button>
      <${ErrorNote} control="open-backchannel" />
    </form>`;
}
