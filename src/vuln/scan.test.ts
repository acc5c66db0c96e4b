import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { VulnDb } from './db.js';
import { judgeFindings, osvPackageOf, scanPurls } from './scan.js';
import { osvRecordsAt } from './source.js';

const MINIMIST = {
  id: 'GHSA-xvch-5gv4-984h',
  modified: '2024-01-01T00:00:00Z',
  aliases: ['CVE-2021-44906'],
  summary: 'Prototype Pollution in minimist',
  severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
  affected: [
    {
      package: { ecosystem: 'npm', name: 'minimist' },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '0.2.4' }] }],
    },
    {
      package: { ecosystem: 'npm', name: 'minimist' },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '1.0.0' }, { fixed: '1.2.6' }] }],
    },
  ],
};
const GLIBC = {
  id: 'DSA-5514-1',
  modified: '2024-01-01T00:00:00Z',
  aliases: ['CVE-2023-4911'],
  summary: 'glibc: buffer overflow in ld.so',
  affected: [
    {
      package: { ecosystem: 'Debian:12', name: 'glibc' },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.36-9+deb12u3' }] }],
    },
  ],
};

function dbWith(records: unknown[]): VulnDb {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-vuln-'));
  mkdirSync(join(dir, 'osv'));
  for (const [i, r] of records.entries()) writeFileSync(join(dir, 'osv', `${i}.json`), JSON.stringify(r));
  const db = VulnDb.open(join(dir, 'vuln.db'), { create: true });
  db.import(osvRecordsAt(join(dir, 'osv')), new Date('2026-12-01T00:00:00Z'));
  return db;
}

describe('osvPackageOf', () => {
  it('maps npm and Debian package URLs to OSV ecosystems (Debian by source package)', () => {
    expect(osvPackageOf('pkg:npm/%40acme/util@2.0.0')).toEqual({
      ecosystems: ['npm'],
      name: '@acme/util',
      version: '2.0.0',
    });
    expect(
      osvPackageOf('pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc'),
    ).toEqual({
      ecosystems: ['Debian:12', 'Debian'],
      name: 'glibc',
      version: '2.36-9+deb12u4',
    });
    expect(osvPackageOf('pkg:generic/node@20.20.2')).toBeUndefined();
  });
});

describe('scanPurls', () => {
  const db = dbWith([MINIMIST, GLIBC]);

  it('finds affected versions with severity from CVSS and the lowest fix', () => {
    const report = scanPurls(
      db,
      ['pkg:npm/minimist@1.2.5', 'pkg:npm/minimist@1.2.6', 'pkg:npm/minimist@0.2.3'],
      'x',
    );
    expect(report.findings.map((f) => [f.installed, f.fixed, f.severity, f.score])).toEqual([
      ['1.2.5', '1.2.6', 'critical', 9.8],
      ['0.2.3', '0.2.4', 'critical', 9.8],
    ]);
  });

  it('orders Debian versions as dpkg does (deb12u14 is after the deb12u3 fix)', () => {
    const purl = (v: string) =>
      `pkg:deb/debian/libc6@${encodeURIComponent(v)}?distro=debian-12&upstream=glibc`;
    const report = scanPurls(db, [purl('2.36-9+deb12u14'), purl('2.36-9+deb12u2')], 'x');
    expect(report.findings.map((f) => [f.id, f.installed, f.severity])).toEqual([
      ['DSA-5514-1', '2.36-9+deb12u2', 'unknown'],
    ]);
  });

  it('keeps an accepted finding from blocking until its acceptance expires', () => {
    const { findings } = scanPurls(db, ['pkg:npm/minimist@1.2.5'], 'x');
    const accept = [
      { id: 'CVE-2021-44906', reason: 'not reachable: we never parse argv', expires: '2027-01-01T00:00:00Z' },
    ];
    const before = judgeFindings(findings, accept, 'hello', 'high', new Date('2026-12-06T00:00:00Z'));
    expect(before[0]).toMatchObject({ accepted: true, blocking: false });
    const after = judgeFindings(findings, accept, 'hello', 'high', new Date('2027-01-02T00:00:00Z'));
    expect(after[0]).toMatchObject({ accepted: false, blocking: true, acceptance: { expired: true } });
    expect(judgeFindings(findings, [], 'hello', 'critical', new Date())[0]!.blocking).toBe(false);
  });
});

describe('VulnDb.import', () => {
  it('reads a zip as osv.dev publishes it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-vuln-'));
    const zip = zipSync({ 'GHSA-xvch-5gv4-984h.json': new TextEncoder().encode(JSON.stringify(MINIMIST)) });
    writeFileSync(join(dir, 'all.zip'), zip);
    const db = VulnDb.open(join(dir, 'vuln.db'), { create: true });
    expect(db.import(osvRecordsAt(join(dir, 'all.zip')))).toEqual({ records: 1, packages: 2 });
    expect(db.meta()).toMatchObject({ advisories: 1, packages: 2 });
  });

  it('refuses a malformed record naming file and record, and imports nothing', () => {
    const db = dbWith([MINIMIST]);
    const dir = mkdtempSync(join(tmpdir(), 'cairn-vuln-'));
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ ...GLIBC, id: 'NEW-1' }));
    writeFileSync(
      join(dir, 'b.json'),
      JSON.stringify({ id: 'BAD-1', modified: 'yesterday', affected: [{ package: {} }] }),
    );
    expect(() => db.import(osvRecordsAt(dir))).toThrow(
      /b\.json record BAD-1 is malformed: no RFC 3339 "modified"; affected\[0\] needs package.ecosystem and package.name/,
    );
    expect(db.meta()).toMatchObject({ advisories: 1 });
    expect(() => VulnDb.open(join(dir, 'missing.db'))).toThrow(/no vulnerability database/);
  });
});
