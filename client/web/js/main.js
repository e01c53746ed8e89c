// Entry point: turns an invite or organiser link into cookies (and clears it from the address
// bar), then shows the view for the seat's role. Views render from the store; only store.js and
// socket.js talk to the server's stream.

import { post } from "./api.js";
import { html, render, useState } from "./html.js";
import { app, catchUp, currentRoom, currentSeat, loadSeats, set, socket, subscribe } from "./store.js";
import { Agenda, Agreement, Coalitions, Positions } from "./views/agenda.js";
import { GapChart, VerifyPanel } from "./views/audit.js";
import { Counts, Disclosure, Seats, StageConsent, StageControl } from "./views/console.js";
import { Header } from "./views/header.js";
import { MessagePane } from "./views/messages.js";
import { OrganiserPage } from "./views/organiser.js";
import { ProposalList, TableProposal } from "./views/proposals.js";
import { ThreadList } from "./views/threads.js";
import { applyFilters, emptyFilters, Filters, Timeline } from "./views/timeline.js";

function DelegateView() {
  return html`
    <div class="layout">
      <aside class="left"><${ThreadList} /><${StageConsent} /></aside>
      <${MessagePane} />
      <aside class="right" aria-label="Negotiation">
        <${Agreement} /><${ProposalList} /><${Agenda} /><${TableProposal} /><${Positions} /><${Coalitions} />
      </aside>
    </div>`;
}

function ObserverView() {
  const room = currentRoom();
  const [filters, setFilters] = useState(emptyFilters);
  const [failed, setFailed] = useState(null);
  const entries = applyFilters(room.timeline, filters);
  return html`
    <div class="layout">
      <aside class="left"><${Filters} filters=${filters} onChange=${setFilters} /></aside>
      <${Timeline} entries=${entries} failed=${failed} />
      <aside class="right" aria-label="Audit tools"><${VerifyPanel} entries=${entries} onFailed=${setFailed} /><${GapChart} /></aside>
    </div>`;
}

function FacilitatorView() {
  return html`
    <div class="layout">
      <aside class="left"><${ThreadList} /><${StageControl} /></aside>
      <${MessagePane} />
      <aside class="right" aria-label="Console"><${Counts} /><${Seats} /><${Disclosure} /><${ProposalList} /><${TableProposal} /></aside>
    </div>`;
}

function Message({ title, text }) {
  return html`<main class="single"><h1>${title}</h1><p>${text}</p></main>`;
}

function App() {
  if (app.mode === "organiser") return html`<${Header} /><${OrganiserPage} />`;
  if (app.mode === "boot") return html`<${Header} /><${Message} title="Parley" text="Loading…" />`;
  if (app.mode === "error") return html`<${Header} /><${Message} title="This link did not work" text=${app.message} />`;
  if (app.mode === "signed-out") return html`<${Header} /><${Message} title="Signed out" text="Your sessions have ended on the server. Open an invite link to take a seat again." />`;
  if (app.mode === "no-seat" || !currentRoom()) return html`<${Header} /><${Message} title="No seat yet" text="Open the invite link you were given to take your seat." />`;
  const role = currentSeat().seat.role;
  const view = role === "observer" ? ObserverView : role === "facilitator" ? FacilitatorView : DelegateView;
  return html`<${Header} /><${view} key=${app.current} />`;
}

const root = document.getElementById("app");
root.textContent = ""; // the boot message is not Preact's to diff against
const draw = () => render(html`<${App} />`, root);
subscribe(draw);

/** A link that did not work opens no socket: the header says so rather than "Connecting…". */
function linkFailed(message) {
  set({ mode: "error", message, connection: "not-connected", connectionDetail: "" });
}

async function boot() {
  const fragment = location.hash.slice(1);
  if (fragment) history.replaceState(null, "", location.pathname); // the token leaves the URL at once
  if (location.pathname === "/organise") {
    try {
      if (fragment) await post("/api/v1/organiser/session", { token: fragment });
      // The organiser's page opens no socket until its person enters a room.
      set({ mode: "organiser", connection: "not-connected" });
      await loadSeats().catch(() => {});
      set({ mode: "organiser" });
    } catch (exc) {
      linkFailed(exc.message);
    }
    return;
  }
  if (location.pathname === "/join") {
    if (!fragment) {
      linkFailed("The invite link is incomplete: it should end with #pi_…");
      return;
    }
    try {
      await post("/api/v1/browser/join", { token: fragment });
    } catch (exc) {
      linkFailed(exc.message);
      return;
    }
    history.replaceState(null, "", "/");
  }
  await loadSeats();
  await catchUp();
  socket.start();
}

draw();
boot().catch((exc) => linkFailed(exc.message));
