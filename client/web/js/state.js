// The room as the browser knows it: one pure function per event kind folds the seat's event
// stream into plain, never-mutated objects, mirroring server/domain/room.py. Views render from
// this; nothing here touches the DOM or the socket.

export const MESSAGES_KEPT = 200; // per thread; older ones are paged back from the server

export function emptyRoom(seat) {
  return {
    id: seat.room,
    seat,
    title: "",
    stages: [],
    stage: seat.stage,
    parties: {},
    seats: {},
    threads: {},
    threadOrder: [],
    agenda: {},
    agendaOrder: [],
    positions: {},
    proposals: {},
    proposalOrder: [],
    coalitions: {},
    agreement: null,
    consents: {},
    messages: {},
    earliest: {},
    pagedBack: {}, // threads whose earlier messages the person loaded: no longer trimmed
    counts: {},
    unread: {},
    moves: [],
    latest: {},
    timeline: [],
    lastSeq: 0,
    synced: false,
  };
}

const put = (map, key, value) => ({ ...map, [key]: value });
const add = (list, value) => (list.includes(value) ? list : [...list, value]);

function count(room, thread, party, what) {
  const c = room.counts[thread] || { messages: 0, proposals: 0, byParty: {} };
  const p = c.byParty[party || "facilitator"] || { messages: 0, proposals: 0 };
  return put(room.counts, thread, {
    ...c,
    [what]: c[what] + 1,
    byParty: put(c.byParty, party || "facilitator", { ...p, [what]: p[what] + 1 }),
  });
}

function addThread(room, thread) {
  return {
    ...room,
    threads: put(room.threads, thread.id, thread),
    threadOrder: add(room.threadOrder, thread.id),
  };
}

function proposalFrom(ev, draft) {
  const r = ev.record;
  const raw = r.body.proposal;
  const sponsors = raw.sponsors || [];
  return {
    id: raw.id,
    thread: draft ? r.body.thread : r.thread,
    sponsors,
    seat: r.actor.seat,
    seq: ev.seq,
    stage: ev.stage,
    terms: raw.terms || {},
    clauses: raw.clauses || [],
    title: raw.title || "",
    parent: raw.parent ?? null,
    coalition: raw.coalition ?? null,
    draft,
    endorsed: draft ? [r.actor.party] : sponsors,
    answers: {},
    withdrawn: false,
    supersededBy: null,
  };
}

function changeProposal(room, id, change) {
  const p = room.proposals[id];
  return p ? { ...room, proposals: put(room.proposals, id, { ...p, ...change(p) }) } : room;
}

function noteTerms(room, proposal) {
  let latest = room.latest;
  for (const [issue, value] of Object.entries(proposal.terms)) {
    for (const party of proposal.sponsors) {
      latest = put(latest, issue, put(latest[issue] || {}, party, {
        value, seq: proposal.seq, proposal: proposal.id, ts: proposal.ts,
      }));
    }
  }
  return { ...room, latest };
}

const FOLDS = {
  room_created(room, ev) {
    const b = ev.record.body;
    room = {
      ...room,
      title: b.title,
      stages: b.stages || room.stages,
      stage: b.stage || (b.stages ? b.stages[0] : room.stage),
      parties: Object.fromEntries((b.parties || []).map((p) => [p.id, p])),
      policy: b.policy || {},
    };
    for (const issue of b.agenda || []) room = FOLDS.agenda_issue_added(room, { record: { body: { issue } } });
    return room;
  },
  seat_joined: (room, ev) => ({ ...room, seats: put(room.seats, ev.record.body.seat.id, ev.record.body.seat) }),
  thread_opened(room, ev) {
    const raw = ev.record.body.thread;
    const party = ev.record.actor.party;
    return addThread(room, {
      id: raw.id, kind: raw.kind, title: raw.title || "", parties: raw.parties || [],
      openedBy: party, accepted: party ? [party] : [], declined: null, disclosedTo: null,
    });
  },
  thread_accepted(room, ev) {
    const t = room.threads[ev.record.thread];
    return t ? addThread(room, { ...t, accepted: add(t.accepted, ev.record.actor.party) }) : room;
  },
  thread_declined(room, ev) {
    // A declined back-channel is closed for good: it never goes live (server/domain/room.py).
    const t = room.threads[ev.record.thread];
    return t ? addThread(room, { ...t, declined: ev.record.actor.party }) : room;
  },
  thread_disclosed(room, ev) {
    const t = room.threads[ev.record.thread];
    if (!t) return room;
    const to = t.disclosedTo === "everyone" ? "everyone" : ev.record.body.to;
    return addThread(room, { ...t, disclosedTo: to });
  },
  stage_changed: (room, ev) => ({ ...room, stage: ev.record.body.to, consents: {} }),
  stage_consented: (room, ev) => ({ ...room, consents: put(room.consents, ev.record.actor.party, ev.record.body.to) }),
  agenda_issue_added(room, ev) {
    const issue = ev.record.body.issue;
    return { ...room, agenda: put(room.agenda, issue.id, issue), agendaOrder: add(room.agendaOrder, issue.id) };
  },
  position_set(room, ev) {
    const b = ev.record.body;
    return { ...room, positions: put(room.positions, b.party, put(room.positions[b.party] || {}, b.issue, b)) };
  },
  message_posted(room, ev) {
    const r = ev.record;
    const msg = { seq: ev.seq, seat: r.actor.seat, party: r.actor.party, text: r.body.text, ts: ev.ts };
    const list = [...(room.messages[r.thread] || []), msg];
    // A thread the person paged back through keeps what they loaded: trimming it would pull
    // the messages they are reading away from under them.
    const trim = list.length > MESSAGES_KEPT && !(room.pagedBack || {})[r.thread];
    const kept = trim ? list.slice(list.length - MESSAGES_KEPT) : list;
    return {
      ...room,
      messages: put(room.messages, r.thread, kept),
      earliest: trim ? put(room.earliest, r.thread, kept[0].seq) : room.earliest,
      counts: count(room, r.thread, r.actor.party, "messages"),
      unread: r.actor.seat === room.seat.seat ? room.unread : put(room.unread, r.thread, (room.unread[r.thread] || 0) + 1),
    };
  },
  proposal_tabled(room, ev) {
    const p = { ...proposalFrom(ev, false), ts: ev.ts };
    const earlier = room.proposals[p.id];
    if (earlier) p.endorsed = earlier.endorsed;
    room = { ...room, proposals: put(room.proposals, p.id, p), proposalOrder: add(room.proposalOrder, p.id) };
    if (p.parent && room.proposals[p.parent] && room.proposals[p.parent].thread === p.thread) {
      room = changeProposal(room, p.parent, (old) => ({ supersededBy: old.supersededBy || p.id }));
    }
    room = { ...room, counts: count(room, p.thread, ev.record.actor.party, "proposals") };
    return noteTerms(room, p);
  },
  proposal_drafted(room, ev) {
    const p = proposalFrom(ev, true);
    return { ...room, proposals: put(room.proposals, p.id, p), proposalOrder: add(room.proposalOrder, p.id) };
  },
  proposal_endorsed: (room, ev) =>
    changeProposal(room, ev.record.body.proposal, (p) => ({ endorsed: add(p.endorsed, ev.record.actor.party) })),
  proposal_answered: (room, ev) =>
    changeProposal(room, ev.record.body.proposal, (p) => ({
      answers: put(p.answers, ev.record.actor.party, { answer: ev.record.body.answer, reason: ev.record.body.reason || "" }),
    })),
  proposal_withdrawn: (room, ev) => changeProposal(room, ev.record.body.proposal, () => ({ withdrawn: true })),
  concession_recorded: (room, ev) => ({ ...room, moves: [...room.moves, { kind: "concession", seq: ev.seq, ...ev.record.body }] }),
  retraction_recorded: (room, ev) => ({ ...room, moves: [...room.moves, { kind: "retraction", seq: ev.seq, ...ev.record.body }] }),
  coalition_declared(room, ev) {
    const raw = ev.record.body.coalition;
    const c = { id: raw.id, name: raw.name, parties: raw.parties, joined: [ev.record.actor.party] };
    return coalitionChanged(room, c);
  },
  coalition_joined(room, ev) {
    const c = room.coalitions[ev.record.body.coalition];
    return c ? coalitionChanged(room, { ...c, joined: add(c.joined, ev.record.actor.party) }) : room;
  },
  agreement_reached(room, ev) {
    const b = ev.record.body;
    return { ...room, agreement: { id: b.agreement, proposal: b.proposal, text: b.text, textSha256: b.text_sha256, parties: b.parties, signatures: {}, concluded: false } };
  },
  agreement_signed(room, ev) {
    const a = room.agreement;
    if (!a) return room;
    return { ...room, agreement: { ...a, signatures: put(a.signatures, ev.record.actor.party, ev.record.body.name) } };
  },
  agreement_concluded: (room) => (room.agreement ? { ...room, agreement: { ...room.agreement, concluded: true } } : room),
};

function coalitionChanged(room, c) {
  room = { ...room, coalitions: put(room.coalitions, c.id, c) };
  const formed = c.parties.every((p) => c.joined.includes(p));
  if (formed && !room.threads[c.id]) {
    room = addThread(room, { id: c.id, kind: "caucus", title: `${c.name} caucus`, parties: c.parties, accepted: c.parties, disclosedTo: null, coalition: true });
  }
  return room;
}

const entryOf = (ev) => ({ seq: ev.seq, kind: ev.kind, stage: ev.stage, ts: ev.ts, leafHash: ev.leaf_hash, sealed: ev.sealed, record: ev.record });

/** Fold one `event` frame into the room. Events at or below `lastSeq` are ignored, so a replay
 * after reconnecting can never apply an event twice. */
export function foldEvent(room, ev) {
  return foldEvents(room, [ev]);
}

/** Fold a run of `event` frames, in order: the same as folding them one by one, but the
 * timeline (every event, for the audit view) is copied once per run, not once per event, so a
 * replay of ten thousand events costs ten thousand appends, not fifty million copies. */
export function foldEvents(room, evs) {
  const entries = [];
  let next = room;
  for (const ev of evs) {
    if (ev.seq <= next.lastSeq) continue;
    entries.push(entryOf(ev));
    next = { ...next, lastSeq: ev.seq };
    const fold = FOLDS[ev.kind];
    if (fold && !ev.sealed && ev.record) next = fold(next, ev);
  }
  return entries.length ? { ...next, timeline: room.timeline.concat(entries) } : room;
}

/** Older events of one thread put before the messages held; `earliest` is where the next page
 * back starts (the earliest seq read, messages or not), 0 once the thread's start is reached. */
export function prependHistory(room, thread, events, earliest) {
  const known = new Set((room.messages[thread] || []).map((m) => m.seq));
  const older = events
    .filter((e) => e.kind === "message_posted" && !e.sealed && e.record.thread === thread && !known.has(e.seq))
    .map((e) => ({ seq: e.seq, seat: e.record.actor.seat, party: e.record.actor.party, text: e.record.body.text, ts: e.ts }));
  return {
    ...room,
    messages: put(room.messages, thread, [...older, ...(room.messages[thread] || [])]),
    earliest: put(room.earliest, thread, earliest),
    pagedBack: put(room.pagedBack || {}, thread, true),
  };
}

/** Threads whose older messages the server left out (a delegate's page reads the room with
 * `recent_messages`): the next page back starts at the oldest message kept, and the messages
 * others posted among those left out count as unread, as they would had they been read. Each
 * thread is taken once (every page of one read names the same ones). */
export function leaveOut(room, leftOut) {
  let { earliest, unread } = room;
  for (const [thread, o] of Object.entries(leftOut || {})) {
    if (thread in earliest) continue;
    earliest = put(earliest, thread, o.before);
    unread = put(unread, thread, (unread[thread] || 0) + o.from_others);
  }
  return earliest === room.earliest ? room : { ...room, earliest, unread };
}

export const markRead = (room, thread) => ({ ...room, unread: put(room.unread, thread, 0) });

/** A proposal's status, derived as server/domain/bargaining.py's status() derives it. */
export function proposalStatus(room, p) {
  if (p.withdrawn) return "withdrawn";
  if (p.draft) return "draft";
  const t = room.threads[p.thread];
  const parties = !t || t.kind === "plenary" ? Object.keys(room.parties) : Object.keys(room.parties).filter((x) => t.parties.includes(x));
  const answers = Object.entries(p.answers);
  const accepted = new Set([...p.sponsors, ...answers.filter(([, a]) => a.answer === "accept").map(([x]) => x)]);
  if (parties.every((x) => accepted.has(x))) return "agreed";
  if (p.supersededBy) return "superseded";
  if (answers.some(([, a]) => a.answer === "reject")) return "rejected";
  if ([...accepted].some((x) => !p.sponsors.includes(x))) return "accepted_by_some";
  return "tabled";
}

export const OPEN_STATUSES = new Set(["tabled", "accepted_by_some", "rejected"]);

/** Threads the seat may open, as server/domain/visibility.py judges them: the plenary, its
 * party's caucuses and back-channels, and threads disclosed to everyone; the facilitator sees
 * every thread (as room policy allows, the server's events decide what it can read). */
export function visibleThreads(room, seat) {
  return room.threadOrder.map((id) => room.threads[id]).filter((t) =>
    t.kind === "plenary" ||
    seat.role === "facilitator" ||
    (seat.role === "observer" && t.disclosedTo) ||
    (seat.party && t.parties.includes(seat.party)) ||
    t.disclosedTo === "everyone");
}
