/**
 * Audit entries: what an event becomes in the log. An entry is canonical JSON (sorted keys, no
 * whitespace) — exactly the bytes hashed into the Merkle leaf — and carries its own index so a
 * deleted or reordered entry is caught at its position. Secret-looking detail values are
 * redacted before they can reach the bytes. Pure.
 */
import { canonicalJson, isDigest, ValidationError } from '../lib/index.js';

export interface AuditSubject {
  service?: string;
  env?: string;
  release?: string;
  instance?: string;
  image?: string;
}

/** What a capability records. `actor` defaults to the OS user, `time` to now. */
export interface AuditEvent {
  actor?: string;
  action: string;
  subject: AuditSubject;
  digestBefore?: string;
  digestAfter?: string;
  reason?: string;
  specCommit?: string;
  detail?: Record<string, unknown>;
  time?: string;
}

/** One entry of the log, as stored and hashed (plus its leaf hash, which is not part of the bytes). */
export interface AuditEntry {
  index: number;
  time: string;
  actor: string;
  action: string;
  subject: AuditSubject;
  digestBefore?: string;
  digestAfter?: string;
  reason?: string;
  specCommit?: string;
  detail?: Record<string, unknown>;
  /** Dotted paths of detail values that were replaced by `[redacted]`. */
  redacted?: string[];
  /** Hex of SHA256(0x00 ‖ canonical JSON of the entry). */
  leafHash: string;
}

export const SUBJECT_KEYS = ['service', 'env', 'release', 'instance', 'image'] as const;
export const REDACTED = '[redacted]';
const SUBJECT_KEY_SET: ReadonlySet<string> = new Set(SUBJECT_KEYS);
const REDACTED_JSON = JSON.stringify(REDACTED);
/** Detail keys that name a secret. `keyId`, `keyName`, `tokenName` are names, not secrets. */
const SECRET_KEY = /(pass(word|wd|phrase)?|secret|token|credential|authorization|cookie|private|key)$/i;
const PRIVATE_KEY_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const ACTION = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/;

/** Whether a detail member would leak a secret: a secret-sounding key (unless the value is a digest), or a private key. */
export function looksSecret(key: string, value: unknown): boolean {
  if (typeof value === 'string' && PRIVATE_KEY_PEM.test(value)) return true;
  if (!SECRET_KEY.test(key) || value === null || typeof value === 'boolean') return false;
  if (typeof value === 'string' && (isDigest(value) || value === REDACTED)) return false;
  return typeof value !== 'object';
}

/** Copies `detail` with secret-looking values replaced by `[redacted]`; returns the dotted paths replaced. */
export function redactSecrets(detail: Record<string, unknown>): {
  detail: Record<string, unknown>;
  redacted: string[];
} {
  const redacted: string[] = [];
  const walk = (value: unknown, path: string): unknown => {
    if (Array.isArray(value)) return value.map((v, i) => walk(v, `${path}[${i}]`));
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const here = path ? `${path}.${k}` : k;
      if (looksSecret(k, v)) {
        out[k] = REDACTED;
        redacted.push(here);
      } else out[k] = walk(v, here);
    }
    return out;
  };
  return { detail: walk(detail, '') as Record<string, unknown>, redacted };
}

function invalid(message: string): ValidationError {
  return new ValidationError(message, [], { hint: 'this is a bug in the capability that records the event' });
}

function cleanSubject(subject: AuditSubject | undefined): AuditSubject {
  const out: AuditSubject = {};
  for (const k in subject) {
    if (!Object.hasOwn(subject, k)) continue;
    if (!SUBJECT_KEY_SET.has(k)) throw invalid(`recording an audit event: unknown subject field "${k}"`);
    const v = subject[k as keyof AuditSubject];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '')
      throw invalid(`recording an audit event: subject.${k} must be a non-empty string`);
    out[k as keyof AuditSubject] = v;
  }
  return out;
}

/**
 * `canonicalJson(redactSecrets(value).detail)` in one walk (appends are the hot path); sets
 * `found.secret` when it redacted something. Equivalence with the two-step form is tested.
 */
function redactedJson(value: unknown, found: { secret: boolean }): string {
  if (value === null || typeof value !== 'object') return canonicalJson(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += `${i ? ',' : ''}${redactedJson(value[i] ?? null, found)}`;
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  let out = '{';
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key];
    if (v === undefined || typeof v === 'function') continue;
    const secret = looksSecret(key, v);
    if (secret) found.secret = true;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${secret ? REDACTED_JSON : redactedJson(v, found)}`;
  }
  return `${out}}`;
}

/** The detail as recorded (a redacted copy only when something was redacted) and its canonical JSON. */
function recordedDetail(detail: Record<string, unknown> | undefined): {
  detail?: Record<string, unknown>;
  json?: string;
  redacted?: string[];
} {
  if (!detail || Object.keys(detail).length === 0) return {};
  const found = { secret: false };
  const json = redactedJson(detail, found);
  if (!found.secret) return { detail, json };
  // Rare: redact again for the copy, and for the paths in the order the caller wrote them.
  const copy = redactSecrets(detail);
  return { detail: copy.detail, json, redacted: copy.redacted.map((p) => `detail.${p}`) };
}

/** Turns an event into entry number `index`: validated, defaults applied, secrets redacted, canonical bytes. */
export function buildEntry(
  event: AuditEvent,
  index: number,
  defaults: { actor: string; time: string },
): { entry: Omit<AuditEntry, 'leafHash'>; bytes: string } {
  if (typeof event?.action !== 'string' || !ACTION.test(event.action)) {
    throw invalid(
      `recording an audit event: action "${String(event?.action)}" is not dotted lower-case words (e.g. deploy.start, api.auth_failed)`,
    );
  }
  for (const field of ['digestBefore', 'digestAfter'] as const) {
    const value = event[field];
    if (value !== undefined && !isDigest(value))
      throw invalid(`recording ${event.action}: ${field} "${value}" is not a sha256 digest`);
  }
  const recorded = recordedDetail(event.detail);
  const entry: Omit<AuditEntry, 'leafHash'> = {
    index,
    time: event.time ?? defaults.time,
    actor: event.actor ?? defaults.actor,
    action: event.action,
    subject: cleanSubject(event.subject),
    digestBefore: event.digestBefore,
    digestAfter: event.digestAfter,
    reason: event.reason,
    specCommit: event.specCommit,
    detail: recorded.detail,
    redacted: recorded.redacted,
  };
  return { entry, bytes: entryBytes(entry, recorded.json) };
}

const SORTED_SUBJECT_KEYS = [...SUBJECT_KEYS].sort();

/**
 * `canonicalJson(entry)`, written out for the known shape (appends are the hot path; the
 * equivalence is tested): members in sorted order, only `detail` needs the general canonical form
 * (`detailJson` when the caller has it already).
 */
export function entryBytes(entry: Omit<AuditEntry, 'leafHash'>, detailJson?: string): string {
  let out = `{"action":${JSON.stringify(entry.action)},"actor":${JSON.stringify(entry.actor)}`;
  if (entry.detail !== undefined) out += `,"detail":${detailJson ?? canonicalJson(entry.detail)}`;
  if (entry.digestAfter !== undefined) out += `,"digestAfter":${JSON.stringify(entry.digestAfter)}`;
  if (entry.digestBefore !== undefined) out += `,"digestBefore":${JSON.stringify(entry.digestBefore)}`;
  out += `,"index":${JSON.stringify(entry.index)}`;
  if (entry.reason !== undefined) out += `,"reason":${JSON.stringify(entry.reason)}`;
  if (entry.redacted !== undefined) out += `,"redacted":${JSON.stringify(entry.redacted)}`;
  if (entry.specCommit !== undefined) out += `,"specCommit":${JSON.stringify(entry.specCommit)}`;
  return `${out},"subject":${subjectBytes(entry.subject)},"time":${JSON.stringify(entry.time)}}`;
}

function subjectBytes(subject: AuditSubject): string {
  let out = '{';
  for (const key of SORTED_SUBJECT_KEYS) {
    const value = subject[key];
    if (value !== undefined) out += `${out.length > 1 ? ',' : ''}"${key}":${JSON.stringify(value)}`;
  }
  return `${out}}`;
}

/** Reads entry bytes back (no checks beyond JSON: verification is `verifyLog`'s job). */
export function parseEntry(bytes: string, leafHash: string): AuditEntry {
  return { ...(JSON.parse(bytes) as Omit<AuditEntry, 'leafHash'>), leafHash };
}

/**
 * The `index` an entry's bytes claim, found without a full parse (verification reads a million of
 * them). Sorted keys put the top-level `"index":` after `detail` and no later member can hold the
 * unescaped key, so the last occurrence is the top-level one. NaN when absent.
 */
export function claimedIndex(bytes: string | Buffer): number {
  const at = bytes.lastIndexOf('"index":');
  if (at < 0) return Number.NaN;
  let value = 0;
  let digits = 0;
  for (let i = at + 8; i < bytes.length && digits < 16; i++, digits++) {
    const c = typeof bytes === 'string' ? bytes.charCodeAt(i) : bytes[i]!;
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + (c - 0x30);
  }
  return digits === 0 ? Number.NaN : value;
}
