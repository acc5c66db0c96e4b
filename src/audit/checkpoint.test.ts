import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseCheckpoint, signCheckpoint, signNote, verifierKey, verifyCheckpoint } from './checkpoint.js';
import { leafHash, MerkleTree } from './merkle.js';
import { formatTlogProof, verifyTlogProof } from './tlog-proof.js';

// The signed-note example of golang.org/x/mod/sumdb/note (note.go, note_test.go): Ed25519 is
// deterministic, so the same key and text must give the same signature line byte for byte.
const GO_SKEY_MATERIAL = 'AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_SIG = 'x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=';

function goKeys() {
  const seed = Buffer.from(GO_SKEY_MATERIAL, 'base64').subarray(1);
  const pub = Buffer.from(GO_VKEY.split('+')[2]!, 'base64').subarray(1);
  const jwk = { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: pub.toString('base64url') };
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

describe('signed notes (C2SP signed-note)', () => {
  it('reproduces the Go sumdb/note reference signature and verifier key', () => {
    const { privateKey, publicKey } = goKeys();
    expect(verifierKey('PeterNeumann', publicKey)).toBe(GO_VKEY);
    expect(signNote(GO_TEXT, 'PeterNeumann', privateKey, publicKey)).toBe(
      `${GO_TEXT}\n— PeterNeumann ${GO_SIG}\n`,
    );
  });
});

describe('checkpoints', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const rootHash = leafHash('x');
  const note = signCheckpoint({ origin: 'cairn.local/audit/test', size: 7, rootHash }, privateKey, publicKey);

  it('formats origin, size and base64 root, then a signature line with the 4-byte key id', () => {
    const lines = note.split('\n');
    expect(lines.slice(0, 4)).toEqual(['cairn.local/audit/test', '7', rootHash.toString('base64'), '']);
    expect(lines[4]).toMatch(/^— cairn\.local\/audit\/test [A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(lines[4]!.split(' ')[2]!, 'base64')).toHaveLength(4 + 64);
    const parsed = parseCheckpoint(note);
    expect(parsed.size).toBe(7);
    expect(parsed.rootHash.equals(rootHash)).toBe(true);
  });

  it('verifies with the signing key only, and rejects any edit', () => {
    expect(verifyCheckpoint(note, publicKey).ok).toBe(true);
    expect(verifyCheckpoint(note, publicKey, 'cairn.local/audit/test').ok).toBe(true);
    expect(verifyCheckpoint(note, publicKey, 'another/origin')).toMatchObject({ ok: false });
    expect(verifyCheckpoint(note, other.publicKey)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/no signature by key/),
    });
    expect(verifyCheckpoint(note.replace('\n7\n', '\n8\n'), publicKey)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/does not verify/),
    });
    const resigned = signCheckpoint(
      { origin: 'cairn.local/audit/test', size: 7, rootHash },
      other.privateKey,
      publicKey,
    );
    expect(verifyCheckpoint(resigned, publicKey)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/does not verify/),
    });
    expect(verifyCheckpoint('garbage', publicKey)).toMatchObject({ ok: false });
  });

  it('ignores extra signatures by unknown keys (witness cosignatures)', () => {
    const witnessed = `${note}— witness.example ${Buffer.alloc(68, 1).toString('base64')}\n`;
    expect(verifyCheckpoint(witnessed, publicKey).ok).toBe(true);
  });
});

describe('tlog proofs', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const entries = Array.from({ length: 11 }, (_, i) => `{"index":${i}}`);
  const tree = MerkleTree.fromLeafHashes(entries.map((e) => leafHash(e)));
  const checkpoint = signCheckpoint({ origin: 'o', size: 11, rootHash: tree.root() }, privateKey, publicKey);
  const text = formatTlogProof({ index: 6, entry: entries[6]!, hashes: tree.inclusionProof(6), checkpoint });

  it('round-trips and verifies with nothing but the text and the public key', () => {
    expect(text.startsWith('c2sp.org/tlog-proof@v1\nextra ')).toBe(true);
    expect(verifyTlogProof(text, publicKey)).toEqual({
      ok: true,
      index: 6,
      size: 11,
      entry: entries[6],
      origin: 'o',
    });
  });

  it('rejects a proof for another entry, index or key', () => {
    const otherEntry = formatTlogProof({
      index: 6,
      entry: entries[5]!,
      hashes: tree.inclusionProof(6),
      checkpoint,
    });
    expect(verifyTlogProof(otherEntry, publicKey).ok).toBe(false);
    expect(verifyTlogProof(text.replace('index 6', 'index 7'), publicKey).ok).toBe(false);
    expect(verifyTlogProof(text, generateKeyPairSync('ed25519').publicKey).ok).toBe(false);
    expect(verifyTlogProof('nonsense', publicKey).ok).toBe(false);
  });
});
