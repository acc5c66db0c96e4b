/**
 * Checking an audit entry's inclusion proof in the browser, with WebCrypto only: the same rules
 * as `cairn audit verify` — RFC 6962 leaf and node hashes, the RFC 9162 §2.1.3.2 inclusion
 * algorithm, and the checkpoint as a C2SP signed note with an Ed25519 signature whose key id is
 * SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]. Pure; runs in Node 20 too (tests).
 */

export interface ProofInput {
  index: number;
  /** The entry's canonical JSON, exactly the bytes the leaf covers. */
  bytes: string;
  /** Audit path, hex, deepest sibling first. */
  hashes: string[];
  checkpoint: { note: string };
  /** `name+hexid+base64(0x01 ‖ key)`. */
  verifierKey: string;
}

export interface ProofVerdict {
  ok: boolean;
  /** What was checked, or why it failed. */
  detail: string;
  size?: number;
  root?: string;
  leaf?: string;
}

const encoder = new TextEncoder();

type Bytes = Uint8Array<ArrayBuffer>;

function hex(bytes: Bytes): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function unhex(text: string): Bytes {
  if (!/^([0-9a-f]{2})*$/i.test(text)) throw new Error(`not hex: ${text.slice(0, 16)}`);
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function unbase64(text: string): Bytes {
  const bin = atob(text);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function concat(...parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function sha256(data: Bytes): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}

export async function leafHash(bytes: string): Promise<Bytes> {
  return sha256(concat(new Uint8Array([0]), encoder.encode(bytes)));
}

const nodeHash = (left: Bytes, right: Bytes) => sha256(concat(new Uint8Array([1]), left, right));

/** RFC 9162 §2.1.3.2: the root the audit path leads to from leaf `index` of a tree of `size`. */
export async function rootFromPath(
  index: number,
  size: number,
  leaf: Bytes,
  path: Bytes[],
): Promise<Bytes | undefined> {
  if (index >= size) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}

interface Note {
  origin: string;
  size: number;
  root: Bytes;
  body: string;
  signatures: Array<{ name: string; keyId: Bytes; signature: Bytes }>;
}

export function parseNote(note: string): Note {
  const split = note.indexOf('\n\n');
  if (split < 0) throw new Error('the checkpoint has no signature block');
  const body = note.slice(0, split + 1);
  const [origin, size, root] = body.split('\n');
  if (!origin || !size || !/^\d+$/.test(size) || !root) throw new Error('the checkpoint body is malformed');
  const signatures = note
    .slice(split + 2)
    .split('\n')
    .filter((l) => l.startsWith('\u2014 '))
    .map((line) => {
      const [name, sig] = line.slice(2).split(' ');
      const raw = unbase64(sig ?? '');
      return { name: name ?? '', keyId: raw.slice(0, 4), signature: raw.slice(4) };
    });
  return { origin, size: Number(size), root: unbase64(root), body, signatures };
}

async function noteKeyId(name: string, key: Bytes): Promise<Bytes> {
  return (await sha256(concat(encoder.encode(name), new Uint8Array([0x0a, 0x01]), key))).slice(0, 4);
}

const same = (a: Bytes, b: Bytes) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Verifies the proof: leaf → root by the path, root = the checkpoint's, checkpoint signed by the key. */
export async function verifyProof(input: ProofInput): Promise<ProofVerdict> {
  try {
    // name+hexid+base64: base64 may itself hold "+", so split at the first two only.
    const [name, idHex, ...keyParts] = input.verifierKey.split('+');
    const keyB64 = keyParts.join('+');
    const keyBytes = unbase64(keyB64 ?? '');
    if (!name || !idHex || keyBytes[0] !== 0x01 || keyBytes.length !== 33)
      return { ok: false, detail: 'the verifier key is not an Ed25519 signed-note key' };
    const key = keyBytes.slice(1);
    const keyId = await noteKeyId(name, key);
    if (hex(keyId) !== idHex.toLowerCase())
      return { ok: false, detail: 'the verifier key id does not match its key' };
    const note = parseNote(input.checkpoint.note);
    const sig = note.signatures.find((s) => s.name === name && same(s.keyId, keyId));
    if (!sig) return { ok: false, detail: `the checkpoint has no signature by ${name}` };
    const publicKey = await crypto.subtle.importKey('raw', key, { name: 'Ed25519' }, false, ['verify']);
    const signed = await crypto.subtle.verify(
      { name: 'Ed25519' },
      publicKey,
      sig.signature,
      encoder.encode(note.body),
    );
    if (!signed) return { ok: false, detail: 'the checkpoint signature is not valid' };
    const leaf = await leafHash(input.bytes);
    const root = await rootFromPath(input.index, note.size, leaf, input.hashes.map(unhex));
    if (!root)
      return { ok: false, detail: `the audit path does not fit entry ${input.index} of ${note.size}` };
    if (!same(root, note.root))
      return { ok: false, detail: 'the audit path leads to another root than the signed checkpoint' };
    return {
      ok: true,
      detail: `entry ${input.index} is in the log of ${note.size} entries signed by ${name}`,
      size: note.size,
      root: hex(root),
      leaf: hex(leaf),
    };
  } catch (error) {
    return { ok: false, detail: `the proof could not be read: ${(error as Error).message}` };
  }
}
