import { describe, expect, it } from 'vitest';
import type { PublicKeyInfo, VerifyReport } from '../../trust/index.js';
import { verifyHints } from './verify.js';

const report = (failed: string[]): VerifyReport =>
  ({
    verified: failed.length === 0,
    image: `sha256:${'a'.repeat(64)}`,
    checks: ['blobs', 'signature', 'signature-bundle', 'attestations', 'sbom', 'provenance'].map((name) => ({
      name,
      ok: !failed.includes(name),
      detail: '',
    })),
  }) as VerifyReport;
const key = (keyId: string) => ({ keyId }) as PublicKeyInfo;

describe('verifyHints', () => {
  it('names the key ids that signed the image when none of them is trusted', () => {
    const hints = verifyHints(
      report(['signature', 'signature-bundle']),
      [{ keyId: 'aaa111' }, { keyId: 'aaa111' }],
      [key('bbb222')],
    );
    expect(hints).toEqual([
      expect.stringMatching(
        /signed by key id\(s\) aaa111, which are not among the trusted bbb222: pass that key's public half with --key/,
      ),
    ]);
  });

  it('names cairn sign --attest when the SBOM or provenance is missing', () => {
    const hints = verifyHints(report(['sbom', 'provenance']), [{ keyId: 'k' }], [key('k')]);
    expect(hints).toEqual([
      expect.stringMatching(/^attach the SBOM and provenance with `cairn sign IMAGE --key KEY --attest`/),
    ]);
  });

  it('says to sign an unsigned image, and nothing when it verifies', () => {
    expect(
      verifyHints(
        report(['signature', 'signature-bundle', 'attestations', 'sbom', 'provenance']),
        [],
        [key('k')],
      ),
    ).toEqual([expect.stringMatching(/^attach the SBOM/), 'sign it: `cairn sign IMAGE --key KEY`']);
    expect(verifyHints(report([]), [{ keyId: 'x' }], [key('k')])).toEqual([]);
  });
});
