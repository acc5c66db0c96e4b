/**
 * Checkpoints: the log's tree head as a C2SP signed note (c2sp.org/tlog-checkpoint,
 * c2sp.org/signed-note). The body is `origin\nsize\nbase64(root)\n`; after a blank line comes
 * `— <key name> base64(4-byte key id ‖ Ed25519 signature)`. Key id = SHA-256(name ‖ 0x0A ‖ 0x01 ‖
 * public key)[:4]. Uses node:crypto for Ed25519 only; no I/O.
 */
import { createHash, type KeyObject, sign, verify } from 'node:crypto';
import { HASH_BYTES } from './merkle.js';

/** The signature-type byte of Ed25519 in signed notes. */
const ED25519_TYPE = 0x01;
const SIGNATURE_PREFIX = '\u2014 ';
const ED25519_SIGNATURE_BYTES = 64;

export interface CheckpointBody {
  origin: string;
  size: number;
  rootHash: Buffer;
}

export interface ParsedCheckpoint extends CheckpointBody {
  /** The signed text: the body up to and including its last newline. */
  body: string;
  signatures: Array<{ name: string; keyId: Buffer; signature: Buffer }>;
}

/** The raw 32 bytes of an Ed25519 public key. */
export function rawPublicKey(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string')
    throw new TypeError('audit key: not an Ed25519 public key');
  return Buffer.from(jwk.x, 'base64url');
}

/** The 4-byte signed-note key id of an Ed25519 key under a name. */
export function noteKeyId(name: string, publicKey: KeyObject): Buffer {
  const hash = createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, ED25519_TYPE]));
  return hash.update(rawPublicKey(publicKey)).digest().subarray(0, 4);
}

/** The verifier key string (`name+hexid+base64(0x01‖key)`) that note tooling such as Go's sumdb/note reads. */
export function verifierKey(name: string, publicKey: KeyObject): string {
  const key = Buffer.concat([Buffer.from([ED25519_TYPE]), rawPublicKey(publicKey)]).toString('base64');
  return `${name}+${noteKeyId(name, publicKey).toString('hex')}+${key}`;
}

/** A default origin unique to the key: `cairn.local/audit/<first 8 hex of SHA-256(public key)>`. */
export function defaultOrigin(publicKey: KeyObject): string {
  return `cairn.local/audit/${createHash('sha256').update(rawPublicKey(publicKey)).digest('hex').slice(0, 8)}`;
}

export function checkOrigin(origin: string): void {
  if (!origin || /[\s+]/u.test(origin) || /[\x00-\x1f]/.test(origin)) {
    throw new TypeError(
      `checkpoint origin "${origin}": must be non-empty, without spaces, plus signs or control characters`,
    );
  }
}

export function formatCheckpointBody(body: CheckpointBody): string {
  checkOrigin(body.origin);
  if (body.rootHash.length !== HASH_BYTES) throw new TypeError('checkpoint root: not a 32-byte hash');
  return `${body.origin}\n${body.size}\n${body.rootHash.toString('base64')}\n`;
}

/** Signs a note text (ending in a newline) with an Ed25519 key under `name`. */
export function signNote(text: string, name: string, privateKey: KeyObject, publicKey: KeyObject): string {
  const signature = sign(null, Buffer.from(text, 'utf8'), privateKey);
  const blob = Buffer.concat([noteKeyId(name, publicKey), signature]).toString('base64');
  return `${text}\n${SIGNATURE_PREFIX}${name} ${blob}\n`;
}

/** Signs a checkpoint body; the key name is the origin, as transparency logs do. */
export function signCheckpoint(body: CheckpointBody, privateKey: KeyObject, publicKey: KeyObject): string {
  return signNote(formatCheckpointBody(body), body.origin, privateKey, publicKey);
}

/** Parses a signed checkpoint; throws a TypeError naming what is malformed. */
export function parseCheckpoint(note: string): ParsedCheckpoint {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n'))
    throw new TypeError('not a signed note: no blank line before the signatures');
  const body = note.slice(0, split + 1);
  const lines = body.slice(0, -1).split('\n');
  const [origin, sizeText, rootText] = lines;
  if (lines.length < 3 || !origin) throw new TypeError('checkpoint: want origin, size and root hash lines');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText!))
    throw new TypeError(`checkpoint: size "${sizeText}" is not a decimal number`);
  const rootHash = Buffer.from(rootText!, 'base64');
  if (rootHash.length !== HASH_BYTES || rootHash.toString('base64') !== rootText) {
    throw new TypeError('checkpoint: root hash is not base64 of 32 bytes');
  }
  const signatures = note
    .slice(split + 2, -1)
    .split('\n')
    .map(parseSignatureLine);
  return { origin, size: Number(sizeText), rootHash, body, signatures };
}

function parseSignatureLine(line: string): { name: string; keyId: Buffer; signature: Buffer } {
  if (!line.startsWith(SIGNATURE_PREFIX))
    throw new TypeError('signed note: signature line does not start with "— "');
  const [name, blob, ...rest] = line.slice(SIGNATURE_PREFIX.length).split(' ');
  const bytes = Buffer.from(blob ?? '', 'base64');
  if (!name || rest.length > 0 || bytes.length < 5 || bytes.toString('base64') !== blob) {
    throw new TypeError('signed note: malformed signature line');
  }
  return { name, keyId: bytes.subarray(0, 4), signature: bytes.subarray(4) };
}

export type CheckpointVerdict = { ok: true; checkpoint: ParsedCheckpoint } | { ok: false; problem: string };

/**
 * Verifies a checkpoint's signature by `publicKey` under the checkpoint's own origin (and that
 * the origin is `expectedOrigin` when given). Signatures by other keys are ignored, as the
 * signed-note spec asks; a signature by this key that does not verify rejects the note.
 */
export function verifyCheckpoint(
  note: string,
  publicKey: KeyObject,
  expectedOrigin?: string,
): CheckpointVerdict {
  let checkpoint: ParsedCheckpoint;
  try {
    checkpoint = parseCheckpoint(note);
  } catch (error) {
    return { ok: false, problem: (error as Error).message };
  }
  if (expectedOrigin !== undefined && checkpoint.origin !== expectedOrigin) {
    return { ok: false, problem: `origin is "${checkpoint.origin}", expected "${expectedOrigin}"` };
  }
  const id = noteKeyId(checkpoint.origin, publicKey);
  const mine = checkpoint.signatures.find((s) => s.name === checkpoint.origin && s.keyId.equals(id));
  if (!mine)
    return { ok: false, problem: `no signature by key ${id.toString('hex')} (${checkpoint.origin})` };
  const valid =
    mine.signature.length === ED25519_SIGNATURE_BYTES &&
    verify(null, Buffer.from(checkpoint.body, 'utf8'), publicKey, mine.signature);
  return valid
    ? { ok: true, checkpoint }
    : { ok: false, problem: `signature by key ${id.toString('hex')} does not verify` };
}
