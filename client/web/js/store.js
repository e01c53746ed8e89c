// The page's state and the only code that changes it: frames from the socket are folded by
// state.js, commands go out through the socket with the control that sent them remembered, so
// a refusal is shown next to that control.

import { get, post } from "./api.js";
import { RoomSocket } from "./socket.js";
import { MESSAGES_KEPT, emptyRoom, foldEvents, leaveOut, markRead, prependHistory } from "./state.js";

const listeners = new Set();
const controlOf = new Map(); // command id -> control key

export const app = {
  mode: "boot",
  message: "",
  seats: [],
  current: null,
  rooms: {},
  connection: "connecting",
  connectionDetail: "",
  errors: {},
  thread: {},
  organiser: null,
  queued: 0,
};

export function subscribe(fn) {
  listeners.add(fn);
}

let scheduled = false;
/** Event frames received and not folded yet, by room: folded as one run before the next draw. */
const arrived = new Map();

function draw() {
  scheduled = false;
  foldArrived();
  for (const fn of listeners) fn(app);
}

/** Fold every event frame that arrived since the last draw, one run per room. */
function foldArrived() {
  if (!arrived.size) return;
  const runs = [...arrived];
  arrived.clear();
  const rooms = { ...app.rooms };
  const reread = [];
  for (const [roomId, frames] of runs) {
    const room = rooms[roomId];
    if (!room) continue;
    let next = foldEvents(room, frames);
    const open = app.thread[roomId] || "plenary";
    if (roomId === app.current && frames.some((f) => f.record && f.record.thread === open)) next = markRead(next, open);
    rooms[roomId] = next;
    if (roomId === app.current && frames.some((f) => f.kind === "thread_disclosed")) reread.push(roomId);
  }
  Object.assign(app, { rooms });
  for (const roomId of reread) rereadAfterDisclosure(roomId);
}

/** Change the state; the page is drawn once per frame however many events arrived (a replay
 * of thousands of events must not draw thousands of times). */
export function set(change) {
  Object.assign(app, typeof change === "function" ? change(app) : change);
  if (scheduled) return;
  scheduled = true;
  if (document.hidden) setTimeout(draw, 100); // no animation frames in a background tab
  else requestAnimationFrame(draw);
}

export const currentRoom = () => app.rooms[app.current];
export const currentSeat = () => app.seats.find((s) => s.room === app.current);

function setRoom(id, room) {
  set({ rooms: { ...app.rooms, [id]: room } });
}

export const socket = new RoomSocket({
  resumePoints: () => {
    foldArrived(); // resume after the last event received, folded or not
    return app.seats.map((s) => ({ room: s.room, after: app.rooms[s.room] ? app.rooms[s.room].lastSeq : 0 }));
  },
  onState: (connection, detail = "") => set({ connection, connectionDetail: detail }),
  onQueued: (queued) => set({ queued }),
  onFrame(frame) {
    if (frame.type === "event") {
      if (!app.rooms[frame.room]) return;
      const frames = arrived.get(frame.room);
      if (frames) frames.push(frame);
      else arrived.set(frame.room, [frame]);
      set({});
    } else if (frame.type === "synced") {
      foldArrived();
      const room = app.rooms[frame.room];
      if (room) setRoom(frame.room, { ...room, synced: true });
    } else if (frame.type === "ack" || frame.type === "error") {
      const control = controlOf.get(frame.id);
      controlOf.delete(frame.id);
      if (control) {
        const errors = { ...app.errors };
        if (frame.type === "error") errors[control] = frame.message;
        else delete errors[control];
        set({ errors });
      }
    }
  },
});

/** Send a command for the current room; a refusal shows next to `control`. */
export function act(control, command) {
  const id = socket.send({ room: app.current, ...command });
  controlOf.set(id, control);
  const errors = { ...app.errors };
  delete errors[control];
  set({ errors });
  return id;
}

export function showError(control, message) {
  set({ errors: { ...app.errors, [control]: message } });
}

export async function loadSeats() {
  const { seats } = await get("/api/v1/browser/seats");
  const rooms = { ...app.rooms };
  for (const s of seats) {
    if (!rooms[s.room]) rooms[s.room] = { ...emptyRoom({ room: s.room, seat: s.seat.id, ...s.seat, stage: s.stage }), title: s.title };
  }
  const current = (seats.find((s) => s.current) || seats[0] || {}).room || null;
  set({ seats, rooms, current, mode: seats.length ? "room" : "no-seat" });
  return seats;
}

/** Read a room's log over HTTP after `since`, 500 events a request, handing each page to
 * `onPage`. A delegate's page keeps only the last MESSAGES_KEPT messages of each thread, so
 * from the start it asks the server to leave older ones out (`recent_messages`, one cut for
 * every page); observers (the audit timeline) and facilitators (the counts) read every event. */
async function readLog(roomId, since, onPage) {
  const seat = app.seats.find((s) => s.room === roomId);
  const recent = since === 0 && seat && seat.seat.role === "delegate" ? `&recent_messages=${MESSAGES_KEPT}` : "";
  let cut = "";
  for (let more = true; more;) {
    const page = await get(`/api/v1/rooms/${encodeURIComponent(roomId)}/events?since=${since}&limit=500${recent}${cut}`);
    if (recent) cut = `&cut=${page.cut}`;
    onPage(page);
    since = page.next;
    more = page.more && page.events.length > 0;
  }
}

/** Read the current room's log over HTTP before the socket opens: the socket then resumes
 * after the last event read, with no gap and no duplicate (the server judges both by the same
 * visibility function). A long room opens in a few dozen requests instead of one WebSocket
 * message per event. Another room this browser holds is caught up by its socket. */
export async function catchUp() {
  const roomId = app.current;
  if (!roomId || !app.rooms[roomId]) return;
  try {
    await readLog(roomId, app.rooms[roomId].lastSeq, (page) =>
      setRoom(roomId, foldEvents(leaveOut(app.rooms[roomId], page.left_out), page.events)));
  } catch {
    // The socket's replay reads whatever is left.
  }
}

export async function switchRoom(roomId) {
  await post("/api/v1/browser/switch", { room: roomId });
  set({ current: roomId, seats: app.seats.map((s) => ({ ...s, current: s.room === roomId })) });
}

export function openThread(threadId) {
  const room = currentRoom();
  set({ thread: { ...app.thread, [app.current]: threadId } });
  if (room) setRoom(app.current, markRead(room, threadId));
}

/** A disclosure opens a thread's past, but the live stream does not send the past again
 * (docs/protocol.md, Disclosure): read the log again from the server, as the seat may now see
 * it, and fold it afresh; events that arrived meanwhile are folded on top. */
async function rereadAfterDisclosure(roomId) {
  const old = app.rooms[roomId];
  let room = { ...emptyRoom(old.seat), title: old.title };
  await readLog(roomId, 0, (page) => {
    room = foldEvents(leaveOut(room, page.left_out), page.events);
  });
  const current = app.rooms[roomId];
  const since = current.timeline.filter((entry) => entry.seq > room.lastSeq);
  room = foldEvents(room, since.map((entry) => ({ ...entry, leaf_hash: entry.leafHash })));
  setRoom(roomId, { ...room, unread: current.unread, synced: current.synced });
}

/** Page back through one thread's history, before the oldest message held: the server reads
 * that thread backwards (however many events of other threads lie between), so every click
 * moves the marker, until the thread's first event, where the page says it has begun. */
export async function loadEarlier(threadId) {
  const room = currentRoom();
  const before = room.earliest[threadId];
  if (!before) return;
  const path = `/api/v1/rooms/${encodeURIComponent(room.id)}/threads/${encodeURIComponent(threadId)}/events`;
  const page = await get(`${path}?before=${before}&limit=${MESSAGES_KEPT}`);
  setRoom(room.id, prependHistory(app.rooms[room.id], threadId, page.events, page.more ? page.before : 0));
}

export async function signOut() {
  socket.stop();
  await post("/api/v1/browser/signout");
  set({ mode: "signed-out", seats: [], rooms: {}, current: null, connection: "signed-out" });
}
