// Verification in the browser with WebCrypto, written from RFC 9162 and the C2SP signed-note
// format like the Python client's client/ledger.py, trusting nothing the server says without
// checking it: the checkpoint's Ed25519 signature, each shown entry's leaf hash (recomputed from
// its record, RFC 8785 canonical JSON) and its inclusion proof against the signed root, and
// consistency between the last checkpoint this browser verified and the new one.

import { get, room as roomPath } from "./api.js";

const enc = new TextEncoder();
const DASH = "\u2014 ";

export class ProofError extends Error {
  constructor(message, seq = null) {
    super(message);
    this.seq = seq;
  }
}

export const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
export function unhex(text) {
  if (!/^([0-9a-f]{2})*$/.test(text)) throw new ProofError(`${text} is not hex`);
  return Uint8Array.from(text.match(/../g) || [], (b) => parseInt(b, 16));
}
function unbase64(text) {
  const raw = atob(text);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}
const node = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

/** RFC 8785 for what records hold (strings, integers, booleans, null, arrays, objects). */
export function canonical(value) {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isInteger(value)) throw new ProofError("a record holds a float");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
}

export const leafHash = (record) => sha256(concat(Uint8Array.of(0), enc.encode(canonical(record))));

export async function parseKey(text) {
  // name+kid+base64: the base64 part may itself hold "+", so split at the first two only.
  const [name, kid, ...rest] = text.trim().split("+");
  const key = rest.join("+");
  if (!name || !/^[0-9a-f]{8}$/.test(kid || "") || !key) throw new ProofError("the verifier key is malformed");
  const raw = unbase64(key);
  if (raw.length !== 33 || raw[0] !== 1) throw new ProofError("the verifier key is not an Ed25519 key");
  const id = (await sha256(concat(enc.encode(name + "\n"), raw))).slice(0, 4);
  if (hex(id) !== kid) throw new ProofError("the verifier key's id does not match its key");
  const publicKey = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
  return { name, keyId: id, publicKey };
}

export async function openCheckpoint(note, key, roomId) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new ProofError("the checkpoint is not a signed note");
  const text = note.slice(0, split + 1);
  let signed = false;
  for (const line of note.slice(split + 2, -1).split("\n")) {
    if (!line.startsWith(DASH)) throw new ProofError("the checkpoint has a malformed signature line");
    const [name, blob64] = line.slice(DASH.length).split(" ");
    const blob = unbase64(blob64 || "");
    if (name !== key.name || !equal(blob.slice(0, 4), key.keyId)) continue;
    const ok = await crypto.subtle.verify("Ed25519", key.publicKey, blob.slice(4), enc.encode(text));
    if (!ok) throw new ProofError(`the checkpoint's signature by ${key.name} is invalid`);
    signed = true;
  }
  if (!signed) throw new ProofError(`the checkpoint is not signed by the server's key ${key.name}`);
  const lines = text.slice(0, -1).split("\n");
  if (lines.length !== 3 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new ProofError("the signed text is not a checkpoint");
  const root = unbase64(lines[2]);
  if (root.length !== 32) throw new ProofError("the checkpoint's root is not a SHA-256 hash");
  if (!lines[0].endsWith(`/room/${roomId}`)) throw new ProofError(`the checkpoint's origin is not this room's`);
  return { origin: lines[0], size: Number(lines[1]), root };
}

/** RFC 9162 §2.1.3.2 */
export async function verifyInclusion(index, size, leaf, proof, root) {
  if (!(index >= 0 && index < size)) return false;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn & 1 || fn === sn) {
      r = await node(p, r);
      if (!(fn & 1)) while (fn && !(fn & 1)) { fn >>= 1; sn >>= 1; }
    } else {
      r = await node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && equal(r, root);
}

/** RFC 9162 §2.1.4.2 */
export async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
  if (!(first >= 0 && first <= second)) return false;
  if (first === 0 || first === second) return proof.length === 0 && (first === 0 || equal(firstRoot, secondRoot));
  const path = [...proof];
  if ((first & (first - 1)) === 0) path.unshift(firstRoot);
  if (!path.length) return false;
  let fn = first - 1, sn = second - 1;
  while (fn & 1) { fn >>= 1; sn >>= 1; }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn & 1 || fn === sn) {
      fr = await node(c, fr);
      sr = await node(c, sr);
      if (!(fn & 1)) while (fn && !(fn & 1)) { fn >>= 1; sn >>= 1; }
    } else {
      sr = await node(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && equal(fr, firstRoot) && equal(sr, secondRoot);
}

const rememberKey = (roomId) => `parley.verified.${roomId}`;

async function checkEntry(roomId, entry, checkpoint) {
  const leaf = unhex(entry.leafHash);
  if (!entry.sealed) {
    const recomputed = await leafHash(entry.record);
    if (!equal(recomputed, leaf)) throw new ProofError(`entry ${entry.seq}: its record does not hash to its leaf hash`, entry.seq);
  }
  const proof = await get(roomPath(roomId, `/proofs/inclusion?seq=${entry.seq}&size=${checkpoint.size}`));
  if (proof.leaf_hash !== entry.leafHash) throw new ProofError(`entry ${entry.seq}: the log holds another leaf hash for it`, entry.seq);
  const ok = await verifyInclusion(entry.seq - 1, checkpoint.size, leaf, proof.proof.map(unhex), checkpoint.root);
  if (!ok) throw new ProofError(`entry ${entry.seq}: its inclusion proof does not lead to the signed root`, entry.seq);
}

/** Verify the entries shown; returns a report that says what was and was not verified. */
export async function verifyRoom(roomId, entries) {
  const key = await parseKey(await get("/api/v1/ledger/key"));
  let latest;
  try {
    latest = await get(roomPath(roomId, "/checkpoints/latest"));
  } catch (exc) {
    if (exc.status === 404) throw new ProofError("the server has not signed a checkpoint of this room yet: nothing can be verified");
    throw exc;
  }
  const checkpoint = await openCheckpoint(latest.note, key, roomId);
  const covered = entries.filter((e) => e.seq <= checkpoint.size);
  const queue = [...covered];
  const workers = Array.from({ length: 6 }, async () => {
    while (queue.length) await checkEntry(roomId, queue.shift(), checkpoint);
  });
  await Promise.all(workers);

  let consistency = "first checkpoint verified in this browser: nothing earlier to compare";
  const remembered = JSON.parse(localStorage.getItem(rememberKey(roomId)) || "null");
  if (remembered) {
    const oldRoot = unhex(remembered.root);
    if (remembered.size > checkpoint.size) {
      throw new ProofError(`the server's latest checkpoint (${checkpoint.size} entries) is older than one verified before (${remembered.size})`);
    }
    const proof = remembered.size === checkpoint.size ? { proof: [] }
      : await get(roomPath(roomId, `/proofs/consistency?from=${remembered.size}&to=${checkpoint.size}`));
    const ok = await verifyConsistency(remembered.size, checkpoint.size, oldRoot, checkpoint.root, proof.proof.map(unhex));
    if (!ok) throw new ProofError(`the log of ${checkpoint.size} entries does not extend the one of ${remembered.size} verified before: it was rewritten`);
    consistency = remembered.size === checkpoint.size
      ? `same checkpoint as last verified (${remembered.size} entries)`
      : `consistent with the checkpoint of ${remembered.size} entries verified before`;
  }
  localStorage.setItem(rememberKey(roomId), JSON.stringify({ size: checkpoint.size, root: hex(checkpoint.root) }));
  return {
    size: checkpoint.size,
    root: hex(checkpoint.root),
    signedAt: latest.signed_at,
    verified: covered.length,
    sealed: covered.filter((e) => e.sealed).length,
    notCovered: entries.length - covered.length,
    consistency,
  };
}
