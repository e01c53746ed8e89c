import { html, useEffect, useRef, useState } from "../html.js";
import { act, app, currentRoom, currentSeat, loadEarlier } from "../store.js";
import { ErrorNote, partyName } from "./header.js";
import { threadTitle } from "./threads.js";

const time = (ts) => (ts ? ts.slice(11, 16) : "");

export function MessagePane() {
  const room = currentRoom();
  const seat = currentSeat().seat;
  const id = app.thread[app.current] || "plenary";
  const thread = room.threads[id];
  const messages = room.messages[id] || [];
  const list = useRef(null);
  const [stuck, setStuck] = useState(true);
  useEffect(() => {
    if (stuck && list.current) list.current.scrollTop = list.current.scrollHeight;
  }, [messages.length, id]);
  if (!thread) return html`<main class="center"><p class="empty">No thread selected.</p></main>`;
  const awaiting = thread.kind === "backchannel" && !thread.declined && seat.party && thread.parties.includes(seat.party) && !thread.accepted.includes(seat.party);
  const onScroll = (e) => setStuck(e.target.scrollHeight - e.target.scrollTop - e.target.clientHeight < 40);
  return html`
    <main class="center" aria-label="Conversation">
      <div class="pane-head">
        <h2>${threadTitle(room, thread)}</h2>
        <span class="muted">${thread.kind === "plenary" ? "Every party and observers" : thread.parties.map((p) => partyName(room, p)).join(" · ")}</span>
      </div>
      ${awaiting && html`
        <div class="invite" role="region" aria-label="Back-channel invitation">
          <p>${partyName(room, thread.openedBy)} invites your party to this back-channel.</p>
          ${seat.head ? html`
            <div class="choices">
              <button type="button" onClick=${() => act("accept-" + id, { type: "accept_backchannel", thread: id })}>Accept back-channel</button>
              <button type="button" class="quiet" onClick=${() => act("decline-" + id, { type: "decline_backchannel", thread: id })}>Decline back-channel</button>
            </div>
            <p class="muted">Nobody can post in it until every party accepts; once declined, it is closed for good.</p>`
          : html`<p class="muted">Your head of delegation may accept or decline it.</p>`}
          <${ErrorNote} control=${"accept-" + id} />
          <${ErrorNote} control=${"decline-" + id} />
        </div>`}
      ${thread.declined && html`
        <div class="invite" role="region" aria-label="Back-channel declined">
          <p>${partyName(room, thread.declined)} declined this back-channel. It is closed: nobody can post in it.</p>
        </div>`}
      <div class="messages" role="log" aria-label="Messages" ref=${list} onScroll=${onScroll} tabindex="0">
        ${room.earliest[id] > 0
          ? html`<button type="button" class="quiet more" onClick=${() => loadEarlier(id)}>Load earlier messages</button>`
          : messages.length > 0 && html`<p class="muted start">Beginning of the thread</p>`}
        ${messages.length === 0 && html`<p class="empty">No messages yet.</p>`}
        ${messages.map((m) => html`
          <article class=${m.seat === seat.id ? "msg mine" : "msg"} aria-label=${"Message from " + ((room.seats[m.seat] || {}).name || m.seat)}>
            <header><span class="who">${(room.seats[m.seat] || {}).name || m.seat}</span>
              <span class="party">${m.party ? partyName(room, m.party) : "Facilitator"}</span>
              <time datetime=${m.ts}>${time(m.ts)}</time></header>
            <p class="text">${m.text}</p>
          </article>`)}
      </div>
      ${!stuck && html`<button type="button" class="jump" onClick=${() => { list.current.scrollTop = list.current.scrollHeight; setStuck(true); }}>Jump to latest</button>`}
      ${!thread.declined && html`<${Composer} thread=${id} />`}
    </main>`;
}

function Composer({ thread }) {
  const [text, setText] = useState("");
  const seat = currentSeat().seat;
  if (seat.role === "observer") return html`<p class="muted composer">Observers read; they do not post.</p>`;
  const send = (e) => {
    e.preventDefault();
    if (!text.trim()) return;
    act("composer", { type: "post_message", thread, text });
    setText("");
  };
  const keys = (e) => {
    if (e.key === "Enter" && !e.shiftKey) send(e);
  };
  return html`
    <form class="composer" aria-label="Write a message" onSubmit=${send}>
      <label class="sr-only" for="composer-text">Message</label>
      <textarea id="composer-text" rows="2" placeholder="Write a message…" value=${text}
        onInput=${(e) => setText(e.target.value)} onKeyDown=${keys}></textarea>
      <button type="submit">Send</button>
      <${ErrorNote} control="composer" />
    </form>`;
}
