/** Reads the expected identity an instance record stored when the instance started. */
import type { InstanceRecord } from '../state/index.js';
import type { ExpectedIdentity } from './types.js';

/** The record's identity, or why it has none a check can use (an instance started before identities). */
export function expectedIdentity(record: InstanceRecord): ExpectedIdentity | string {
  const { imageDigest, filesDigest, entrypoint } = record.identity;
  if (typeof imageDigest !== 'string' || typeof filesDigest !== 'string' || !Array.isArray(entrypoint)) {
    return `${record.id} has no recorded identity (image digest, files digest, entrypoint) to check against`;
  }
  return {
    instance: record.id,
    service: record.service,
    env: record.env,
    release: record.releaseId,
    imageDigest,
    filesDigest,
    entrypoint: entrypoint.map(String),
  };
}
