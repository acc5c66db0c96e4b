/**
 * in-toto Statement v1: what an attestation is about (`subject`, by digest) and what it says
 * (`predicateType`, `predicate`). cairn's subjects are image manifest digests.
 */
import { digestHex, IntegrityError, isDigest } from '../lib/index.js';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** The predicate of a plain image signature, as cosign's bundle format writes it. */
export const SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const CYCLONEDX_PREDICATE_TYPE = 'https://cyclonedx.org/bom';

export interface Subject {
  name: string;
  digest: Record<string, string>;
}

export interface Statement<P = unknown> {
  _type: typeof STATEMENT_TYPE;
  subject: Subject[];
  predicateType: string;
  predicate: P;
}

/** A statement about one image; `name` is how the image is referred to (repository or ref). */
export function imageStatement<P>(
  name: string,
  manifestDigest: string,
  predicateType: string,
  predicate: P,
): Statement<P> {
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name, digest: { sha256: digestHex(manifestDigest) } }],
    predicateType,
    predicate,
  };
}

/** Parses a statement from its JSON bytes; an `IntegrityError` when it is not one. */
export function parseStatement(bytes: Uint8Array, what: string): Statement {
  let value: Partial<Statement>;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<Statement>;
  } catch {
    throw new IntegrityError(`reading ${what}: the payload is not JSON`);
  }
  const ok =
    value?._type === STATEMENT_TYPE &&
    Array.isArray(value.subject) &&
    typeof value.predicateType === 'string' &&
    value.subject.every((s) => typeof s?.digest === 'object' && s.digest !== null);
  if (!ok) throw new IntegrityError(`reading ${what}: not an in-toto Statement v1`);
  return value as Statement;
}

/** The `sha256:` digests a statement is about. */
export function subjectDigests(statement: Statement): string[] {
  return statement.subject
    .map((s) => s.digest.sha256)
    .filter((hex): hex is string => typeof hex === 'string')
    .map((hex) => `sha256:${hex}`)
    .filter(isDigest);
}

/** True when the statement names exactly this image, and only it. */
export function isAbout(statement: Statement, manifestDigest: string): boolean {
  const digests = subjectDigests(statement);
  return (
    digests.length === statement.subject.length &&
    digests.length > 0 &&
    digests.every((d) => d === manifestDigest)
  );
}
