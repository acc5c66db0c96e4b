/**
 * The statements attached to an image, each with whether a trusted key signed it. Gates read
 * evidence (SBOM, provenance, scan results) from here: a statement no trusted key signed is still
 * returned, marked untrusted, so a policy can tell "missing" from "present but unsigned".
 */
import type { ImageStore } from '../artifact/index.js';
import { verifyBundle } from './bundle.js';
import { envelopePayload, parseEnvelope } from './dsse.js';
import { readReferrerBundle, readReferrersIndex } from './image-attach.js';
import type { PublicKeyInfo } from './key-pair.js';
import { KEY_ID_ANNOTATION, PREDICATE_TYPE_ANNOTATION } from './signature-manifests.js';
import { isAbout, parseStatement, type Statement } from './statement.js';

export interface AttachedStatement {
  predicateType: string;
  statement: Statement;
  /** The key id the bundle names (its hint), whether or not that key is trusted. */
  keyId?: string;
  /** A trusted key signed it and it is about this image. */
  trusted: boolean;
  /** Why it is not trusted, when it is not. */
  problem?: string;
}

async function readOne(
  store: ImageStore,
  digest: string,
  referrer: { digest: string; annotations?: Record<string, string> },
  trusted: readonly PublicKeyInfo[],
): Promise<AttachedStatement | undefined> {
  const { manifest, bundle } = await readReferrerBundle(store, referrer as never);
  if (manifest.subject?.digest !== digest) return undefined;
  const raw = parseEnvelope((bundle as { dsseEnvelope?: unknown }).dsseEnvelope, 'an attestation');
  const statement = parseStatement(envelopePayload(raw), 'an attestation');
  if (!isAbout(statement, digest)) return undefined;
  const keyId = referrer.annotations?.[KEY_ID_ANNOTATION];
  const base = { predicateType: statement.predicateType, statement, ...(keyId ? { keyId } : {}) };
  if (trusted.length === 0) return { ...base, trusted: false, problem: 'no trusted key is configured' };
  try {
    verifyBundle(bundle, trusted);
    return { ...base, trusted: true };
  } catch (error) {
    return { ...base, trusted: false, problem: (error as Error).message };
  }
}

/**
 * Every in-toto statement attached to `digest` as a referrer, newest last. Unreadable referrers
 * are skipped (verification reports them); statements about another image are left out.
 */
export async function attachedStatements(
  store: ImageStore,
  digest: string,
  trusted: readonly PublicKeyInfo[],
): Promise<AttachedStatement[]> {
  const index = await readReferrersIndex(store, digest);
  const out: AttachedStatement[] = [];
  for (const referrer of index?.manifests ?? []) {
    if (!referrer.annotations?.[PREDICATE_TYPE_ANNOTATION]) continue;
    const one = await readOne(store, digest, referrer, trusted).catch(() => undefined);
    if (one) out.push(one);
  }
  return out;
}
