import { html, useState } from "../html.js";
import { currentRoom } from "../store.js";
import { verifyRoom } from "../verify.js";
import { partyName } from "./header.js";

export function VerifyPanel({ entries, onFailed }) {
  const room = currentRoom();
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const [runs, setRuns] = useState(0);
  const run = async () => {
    setBusy(true);
    setResult(null);
    const at = new Date().toISOString().slice(11, 19);
    const n = runs + 1;
    setRuns(n);
    try {
      setResult({ ok: true, n, at, ...(await verifyRoom(room.id, entries)) });
      onFailed(null);
    } catch (exc) {
      setResult({ ok: false, n, at, message: exc.message, seq: exc.seq ?? null });
      onFailed(exc.seq ?? null);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <section aria-label="Verification" class="panel">
      <h2>Verify the record</h2>
      <p class="muted">Checks, in this browser, the server's signed checkpoint and every entry shown.</p>
      <button type="button" onClick=${run} disabled=${busy}>${busy ? "Verifying…" : "Verify"}</button>
      <a class="button quiet" href=${`/api/v1/rooms/${encodeURIComponent(room.id)}/export`} download>Download export</a>
      ${result && (result.ok ? html`
        <div role="status" aria-label="Verification result" class="result ok">
          <p><strong>Verified.</strong> Checkpoint of ${result.size} entries, signed ${result.signedAt}, signature valid.</p>
          <ul>
            <li>${result.verified} entries shown are in the signed log (${result.sealed} of them sealed: their hash only).</li>
            <li>${result.notCovered} entries shown are newer than the checkpoint and not verified yet.</li>
            <li>${result.consistency}.</li>
          </ul>
          <p class="muted">Not verified: entries not shown (filtered out or hidden from you), and anything after the checkpoint.</p>
          <p class="muted">Check ${result.n}, at ${result.at} UTC.</p>
        </div>` : html`
        <div role="alert" aria-label="Verification result" class="result bad">
          <p><strong>Verification failed.</strong> ${result.message}</p>
          <p class="muted">Check ${result.n}, at ${result.at} UTC.</p>
        </div>`)}
    </section>`;
}

const NUMERIC = new Set(["number", "date"]);
const dayOf = (d) => Date.parse(d) / 86400000;

/** Per numeric issue, the spread between the parties' latest tabled values after each proposal. */
export function gaps(room) {
  const latest = {};
  const series = {};
  for (const e of room.timeline) {
    if (e.kind !== "proposal_tabled" || e.sealed) continue;
    const p = e.record.body.proposal;
    for (const [issue, value] of Object.entries(p.terms || {})) {
      const info = room.agenda[issue];
      if (!info || !NUMERIC.has(info.type)) continue;
      for (const party of p.sponsors || []) latest[issue] = { ...(latest[issue] || {}), [party]: info.type === "date" ? dayOf(value) : value };
      const values = Object.values(latest[issue]);
      if (values.length > 1) (series[issue] = series[issue] || []).push({ seq: e.seq, gap: Math.max(...values) - Math.min(...values) });
    }
  }
  return series;
}

export function GapChart() {
  const room = currentRoom();
  const series = gaps(room);
  const issues = Object.keys(series);
  const W = 300, H = 120;
  return html`
    <section aria-label="Gap between positions" class="panel">
      <h2>Gap between positions</h2>
      ${issues.length === 0 && html`<p class="empty">No numeric issue has positions from two parties yet.</p>`}
      ${issues.map((issue) => {
        const points = series[issue];
        const maxGap = Math.max(...points.map((p) => p.gap), 1);
        const first = points[0].seq, last = Math.max(points[points.length - 1].seq, first + 1);
        const xy = points.map((p) => `${((p.seq - first) / (last - first)) * (W - 20) + 10},${H - 10 - (p.gap / maxGap) * (H - 20)}`).join(" ");
        const info = room.agenda[issue];
        const unit = info.type === "date" ? "days" : info.unit || "";
        return html`<figure>
          <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${`${info.title}: gap from ${points[0].gap} to ${points[points.length - 1].gap} ${unit}`}>
            <line x1="10" y1=${H - 10} x2=${W - 10} y2=${H - 10} class="axis" />
            <polyline points=${xy} class="series" />
            ${points.map((p, i) => html`<circle cx=${xy.split(" ")[i].split(",")[0]} cy=${xy.split(" ")[i].split(",")[1]} r="3" class="point" />`)}
          </svg>
          <figcaption>${info.title}: ${points[points.length - 1].gap.toLocaleString("en")} ${unit} apart (${points.length} moves)</figcaption>
        </figure>`;
      })}
      <p class="muted">Parties: ${Object.values(room.parties).map((p) => partyName(room, p.id)).join(", ")}</p>
    </section>`;
}
