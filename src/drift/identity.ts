/**
 * Reads the expected identity an instance record stored when the instance started. Records older
 * than a field simply lack it, and the judgement lists that check as not made.
 */
import type { InstanceRecord } from '../state/index.js';
import type { ExpectedIdentity, RuntimeConfigIdentity } from './types.js';

const isStringMap = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  Object.values(v).every((x) => typeof x === 'string');

function configIdentity(v: unknown): RuntimeConfigIdentity | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { digest, fields } = v as { digest?: unknown; fields?: unknown };
  return typeof digest === 'string' && isStringMap(fields) ? { digest, fields } : undefined;
}

/** The record's identity, or why it has none a check can use (an instance started before identities). */
export function expectedIdentity(record: InstanceRecord): ExpectedIdentity | string {
  const {
    imageDigest,
    filesDigest,
    entrypoint,
    bundleRoot,
    runtimeConfig,
    secrets,
    executable,
    configFiles,
  } = record.identity;
  if (typeof imageDigest !== 'string' || typeof filesDigest !== 'string' || !Array.isArray(entrypoint)) {
    return `${record.id} has no recorded identity (image digest, files digest, entrypoint) to check against`;
  }
  const config = configIdentity(runtimeConfig);
  return {
    instance: record.id,
    service: record.service,
    env: record.env,
    release: record.releaseId,
    imageDigest,
    filesDigest,
    entrypoint: entrypoint.map(String),
    ...(typeof bundleRoot === 'string' ? { bundleRoot } : {}),
    ...(config ? { runtimeConfig: config } : {}),
    ...(isStringMap(secrets) ? { secrets } : {}),
    ...(isStringMap(configFiles) ? { configFiles } : {}),
    ...(typeof executable === 'string' ? { executable } : {}),
  };
}
