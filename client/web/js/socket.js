// The one owner of the WebSocket: connecting with the session cookie, resuming every room
// from the last seq the page holds, reconnecting with backoff, and commands that outlive a
// dropped connection. A command keeps its id until the server answers it (ack or error), and
// is sent again with that same id after reconnecting, so the server applies it at most once.

const TERMINAL = new Set([4001, 4003]); // the seat's session is gone: reconnecting cannot help
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

export class RoomSocket {
  /**
   * @param {object} hooks  onFrame(frame), onState(state, detail), onQueued(count),
   *                        resumePoints() -> [{room, after}]
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.ws = null;
    this.greeted = false;
    this.attempt = 0;
    this.pending = new Map(); // id -> frame, in the order they were made
    this.stopped = false;
    this.timer = null;
    this.counter = 0;
    this.prefix = "w" + Math.random().toString(36).slice(2, 8);
    addEventListener("online", () => this.reconnectNow());
  }

  newId() {
    this.counter += 1;
    return `${this.prefix}-${Date.now().toString(36)}-${this.counter}`;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, "signed out");
  }

  reconnectNow() {
    if (this.stopped || (this.ws && this.ws.readyState <= 1)) return;
    clearTimeout(this.timer);
    this.connect();
  }

  connect() {
    const points = this.hooks.resumePoints();
    if (!points.length) {
      this.hooks.onState("no-seat");
      return;
    }
    this.hooks.onState(this.attempt ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/api/v1/browser/ws`);
    this.ws = ws;
    this.greeted = false;
    ws.addEventListener("open", () => {
      const seats = points.map((p) => ({ token: p.room, after: p.after }));
      ws.send(JSON.stringify({ v: 1, type: "hello", seats }));
    });
    ws.addEventListener("message", (msg) => this.receive(msg.data));
    ws.addEventListener("close", (ev) => this.closed(ws, ev));
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type === "welcome") {
      this.greeted = true;
      this.attempt = 0;
      this.hooks.onState("live");
      for (const pendingFrame of this.pending.values()) this.ws.send(JSON.stringify(pendingFrame));
    }
    if ((frame.type === "ack" || frame.type === "error" || frame.type === "pong") && frame.id) {
      if (this.pending.delete(frame.id)) this.hooks.onQueued(this.pending.size);
    }
    this.hooks.onFrame(frame);
  }

  closed(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.greeted = false;
    if (this.stopped) return;
    if (TERMINAL.has(ev.code)) {
      this.hooks.onState("ended", ev.reason || "this seat's session has ended");
      return;
    }
    const wait = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.hooks.onState("offline", `reconnecting in ${Math.round(wait / 100) / 10} s`);
    this.timer = setTimeout(() => this.connect(), wait * (0.75 + Math.random() / 2));
  }

  /** Send a command (an object without `v` and `id`); returns its id. Offline, it waits. */
  send(command) {
    const frame = { v: 1, id: this.newId(), ...command };
    this.pending.set(frame.id, frame);
    this.hooks.onQueued(this.pending.size);
    if (this.ws && this.greeted && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
    }
    return frame.id;
  }

  get queued() {
    return this.pending.size;
  }
}
