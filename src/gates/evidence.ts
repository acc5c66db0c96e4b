/**
 * The evidence gates read about an image, from the store: its config, and the SBOM, provenance,
 * signatures and scan results attached to it. Where the environment trusts keys, only statements
 * one of them signed count; where it trusts none, the workspace is the trust root and every
 * attached statement counts (signatures are then not required either).
 */
import type { ImageStore } from '../artifact/index.js';
import {
  type AttachedStatement,
  attachedStatements,
  CYCLONEDX_PREDICATE_TYPE,
  type PublicKeyInfo,
  SIGN_PREDICATE_TYPE,
  SLSA_PROVENANCE_V1,
} from '../trust/index.js';

/** The predicate type of OSV scan results (cosign's vulnerability attestation). */
export const VULN_PREDICATE_TYPE = 'https://cosign.sigstore.dev/attestation/vuln/v1';
/** The predicate type of cairn's gate decisions. */
export const DECISION_PREDICATE_TYPE = 'https://cairn.dev/attestation/policy-decision/v1';

export interface Evidence {
  digest: string;
  /** The OCI image config blob, parsed. */
  config: Record<string, unknown>;
  sbom?: unknown;
  provenance?: unknown;
  /** Signature bundles on the image: who signed, and whether a trusted key verified it. */
  signatures: Array<{ keyId: string; trusted: boolean }>;
  /** The newest scan predicate that counts, if any. */
  scan?: unknown;
  /** That scan attestation was signed by a key the environment trusts. */
  scanTrusted?: boolean;
}

function counted(all: AttachedStatement[], type: string, keys: readonly PublicKeyInfo[]) {
  return all.filter((a) => a.predicateType === type && (keys.length === 0 || a.trusted));
}

/** Reads what gates need about `digest`; statements a trusted key did not sign are left out. */
export async function gatherEvidence(
  images: ImageStore,
  digest: string,
  keys: readonly PublicKeyInfo[],
): Promise<Evidence> {
  const manifest = await images.readManifest(digest);
  const config = JSON.parse((await images.readBlob(manifest.config.digest)).toString('utf8'));
  const all = await attachedStatements(images, digest, keys);
  const last = (type: string) => counted(all, type, keys).at(-1)?.statement.predicate;
  const signatures = all
    .filter((a) => a.predicateType === SIGN_PREDICATE_TYPE)
    .map((a) => ({ keyId: a.keyId ?? '', trusted: a.trusted }));
  const sbom = last(CYCLONEDX_PREDICATE_TYPE);
  const provenance = last(SLSA_PROVENANCE_V1);
  const scanStatement = counted(all, VULN_PREDICATE_TYPE, keys).at(-1);
  const scan = scanStatement?.statement.predicate;
  return {
    digest,
    config,
    signatures,
    ...(sbom !== undefined ? { sbom } : {}),
    ...(provenance !== undefined ? { provenance } : {}),
    ...(scan !== undefined ? { scan, scanTrusted: keys.length > 0 && scanStatement!.trusted } : {}),
  };
}
