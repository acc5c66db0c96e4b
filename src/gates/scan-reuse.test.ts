import { describe, expect, it } from 'vitest';
import type { Evidence } from './evidence.js';
import { reusable, SCANNER_URI } from './scan-gate.js';

const finding = {
  id: 'GHSA-x',
  aliases: [],
  package: 'minimist',
  ecosystem: 'npm',
  installed: '1.2.5',
  purl: 'pkg:npm/minimist@1.2.5',
};

function evidence(dbVersion: string, scanTrusted: boolean): Evidence {
  return {
    digest: `sha256:${'a'.repeat(64)}`,
    config: {},
    signatures: [],
    scan: { scanner: { uri: SCANNER_URI, db: { version: dbVersion }, result: { findings: [finding] } } },
    scanTrusted,
  };
}

const LOCAL = '2026-12-07T10:00:00.000Z';

describe('reusing a scan attestation', () => {
  it('reuses a scan made against this very database, signed or not', () => {
    expect(reusable(evidence(LOCAL, false), LOCAL)).toEqual([finding]);
  });

  it('reuses a trusted scan made elsewhere against a newer database (the build host before the push)', () => {
    expect(reusable(evidence('2026-12-07T11:00:00.000Z', true), LOCAL)).toEqual([finding]);
  });

  it('scans again when the local database is newer, or the other scan is not signed by a trusted key', () => {
    expect(reusable(evidence('2026-12-07T09:00:00.000Z', true), LOCAL)).toBeUndefined();
    expect(reusable(evidence('2026-12-07T11:00:00.000Z', false), LOCAL)).toBeUndefined();
    expect(
      reusable({ ...evidence(LOCAL, true), scan: { scanner: { uri: 'https://other.example' } } }, LOCAL),
    ).toBeUndefined();
  });
});
