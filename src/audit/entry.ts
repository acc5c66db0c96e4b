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
  for (const [k, v] of Object.entries(subject ?? {})) {
    if (!(SUBJECT_KEYS as readonly string[]).includes(k))
      throw invalid(`recording an audit event: unknown subject field "${k}"`);
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '')
      throw invalid(`recording an audit event: subject.${k} must be a non-empty string`);
    out[k as keyof AuditSubject] = v;
  }
  return out;
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
  const { detail, redacted } = event.detail
    ? redactSecrets(event.detail)
    : { detail: undefined, redacted: [] };
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
    detail: detail && Object.keys(detail).length > 0 ? detail : undefined,
    redacted: redacted.length > 0 ? redacted.map((p) => `detail.${p}`) : undefined,
  };
  return { entry, bytes: entryBytes(entry) };
}

/** Top-level and subject members in canonical (sorted) order; `entryBytes` relies on it. */
const ENTRY_KEYS = [
  'action',
  'actor',
  'detail',
  'digestAfter',
  'digestBefore',
  'index',
  'reason',
  'redacted',
  'specCommit',
  'subject',
  'time',
] as const;
const SORTED_SUBJECT_KEYS = [...SUBJECT_KEYS].sort();

/**
 * `canonicalJson(entry)`, written out for the known shape (appends are the hot path; the
 * equivalence is tested). Only `detail` needs the general canonical form.
 */
export function entryBytes(entry: Omit<AuditEntry, 'leafHash'>): string {
  const parts: string[] = [];
  for (const key of ENTRY_KEYS) {
    const value = entry[key];
    if (value === undefined) continue;
    if (key === 'detail') parts.push(`"detail":${canonicalJson(value)}`);
    else if (key === 'subject') parts.push(`"subject":${subjectBytes(entry.subject)}`);
    else parts.push(`"${key}":${JSON.stringify(value)}`);
  }
  return `{${parts.join(',')}}`;
}

function subjectBytes(subject: AuditSubject): string {
  const parts: string[] = [];
  for (const key of SORTED_SUBJECT_KEYS) {
    if (subject[key] !== undefined) parts.push(`"${key}":${JSON.stringify(subject[key])}`);
  }
  return `{${parts.join(',')}}`;
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
