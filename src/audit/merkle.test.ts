import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  appendLeaf,
  decodeFrontier,
  emptyFrontier,
  encodeFrontier,
  extendFrontier,
  frontierRoot,
} from './frontier.js';
import { EMPTY_ROOT, leafHash, MerkleTree, merkleRoot, nodeHash } from './merkle.js';
import { rootFromInclusionProof, verifyConsistency, verifyInclusion } from './proof.js';

const unhex = (s: string): Buffer => Buffer.from(s, 'hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// The RFC 6962 reference data used by certificate-transparency and transparency-dev/merkle
// (proof/verify_test.go): eight test leaves, the tree head after each, and known proofs.
const LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(unhex);
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
/** Leaf numbers are 1-based in the reference data. */
const INCLUSION: Array<{ leaf: number; size: number; proof: string[] }> = [
  { leaf: 1, size: 1, proof: [] },
  {
    leaf: 1,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    leaf: 6,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { leaf: 3, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    leaf: 2,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
const CONSISTENCY: Array<{ size1: number; size2: number; proof: string[] }> = [
  { size1: 1, size2: 1, proof: [] },
  {
    size1: 1,
    size2: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    size1: 6,
    size2: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    size1: 2,
    size2: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    size1: 6,
    size2: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

const tree = MerkleTree.fromLeafHashes(LEAVES.map((l) => leafHash(l)));

describe('RFC 6962 reference vectors', () => {
  it('hashes the empty tree, a leaf and a node with the 0x00 / 0x01 prefixes', () => {
    expect(hex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(leafHash(new Uint8Array()))).toBe(ROOTS[0]);
    expect(hex(nodeHash(leafHash(LEAVES[0]!), leafHash(LEAVES[1]!)))).toBe(ROOTS[1]);
  });

  it('gives the published tree head for every size 1..8', () => {
    for (let n = 1; n <= 8; n++) expect(hex(tree.root(n)), `size ${n}`).toBe(ROOTS[n - 1]);
    expect(hex(tree.root(0))).toBe(hex(EMPTY_ROOT));
  });

  it('produces and accepts the published inclusion proofs', () => {
    for (const v of INCLUSION) {
      const index = v.leaf - 1;
      expect(tree.inclusionProof(index, v.size).map(hex), `leaf ${index} of ${v.size}`).toEqual(v.proof);
      expect(
        verifyInclusion(index, v.size, tree.leaf(index), v.proof.map(unhex), unhex(ROOTS[v.size - 1]!)),
      ).toBe(true);
    }
  });

  it('produces and accepts the published consistency proofs', () => {
    for (const v of CONSISTENCY) {
      expect(tree.consistencyProof(v.size1, v.size2).map(hex), `${v.size1}→${v.size2}`).toEqual(v.proof);
      const ok = verifyConsistency(
        v.size1,
        v.size2,
        unhex(ROOTS[v.size1 - 1]!),
        unhex(ROOTS[v.size2 - 1]!),
        v.proof.map(unhex),
      );
      expect(ok).toBe(true);
    }
  });

  it('rejects every corruption of a published inclusion proof', () => {
    const v = INCLUSION[2]!;
    const [index, size, leaf, proof, root] = [
      v.leaf - 1,
      v.size,
      tree.leaf(v.leaf - 1),
      v.proof.map(unhex),
      unhex(ROOTS[7]!),
    ];
    expect(verifyInclusion(index - 1, size, leaf, proof, root)).toBe(false);
    expect(verifyInclusion(index + 1, size, leaf, proof, root)).toBe(false);
    expect(verifyInclusion(index, size * 2, leaf, proof, root)).toBe(false);
    expect(verifyInclusion(index, size / 2, leaf, proof, root)).toBe(false);
    expect(verifyInclusion(index, size, leafHash('wrong'), proof, root)).toBe(false);
    expect(verifyInclusion(index, size, leaf, proof, EMPTY_ROOT)).toBe(false);
    expect(verifyInclusion(index, size, leaf, [...proof, root], root)).toBe(false);
    expect(verifyInclusion(index, size, leaf, [root, ...proof], root)).toBe(false);
    expect(verifyInclusion(index, size, leaf, proof.slice(0, -1), root)).toBe(false);
    for (let i = 0; i < proof.length; i++) {
      const flipped = proof.map((p) => Buffer.from(p));
      flipped[i]![0]! ^= 8;
      expect(verifyInclusion(index, size, leaf, flipped, root), `bit flipped in proof[${i}]`).toBe(false);
    }
  });

  it('rejects every corruption of a published consistency proof', () => {
    const v = CONSISTENCY[2]!;
    const [r1, r2, proof] = [unhex(ROOTS[5]!), unhex(ROOTS[7]!), v.proof.map(unhex)];
    expect(verifyConsistency(5, 8, r1, r2, proof)).toBe(false);
    expect(verifyConsistency(7, 8, r1, r2, proof)).toBe(false);
    expect(verifyConsistency(6, 16, r1, r2, proof)).toBe(false);
    expect(verifyConsistency(6, 8, r2, r1, proof)).toBe(false);
    expect(verifyConsistency(6, 8, r1, r2, [])).toBe(false);
    expect(verifyConsistency(6, 8, r1, r2, [...proof, r1])).toBe(false);
    expect(verifyConsistency(6, 8, r1, r2, [r2, ...proof])).toBe(false);
    expect(verifyConsistency(6, 8, r1, r2, proof.slice(0, -1))).toBe(false);
    expect(verifyConsistency(8, 6, r2, r1, proof)).toBe(false);
    for (let i = 0; i < proof.length; i++) {
      const flipped = proof.map((p) => Buffer.from(p));
      flipped[i]![0]! ^= 16;
      expect(verifyConsistency(6, 8, r1, r2, flipped), `bit flipped in proof[${i}]`).toBe(false);
    }
  });
});

describe('MerkleTree, proofs and frontier agree for every shape', () => {
  const leaves = Array.from({ length: 70 }, (_, i) => leafHash(`entry ${i}`));
  const big = MerkleTree.fromLeafHashes(leaves);

  it('agrees with the frontier (compact range) at every size, and the frontier survives encoding', () => {
    let frontier = emptyFrontier();
    expect(hex(frontierRoot(frontier))).toBe(hex(EMPTY_ROOT));
    for (let n = 1; n <= leaves.length; n++) {
      frontier = appendLeaf(frontier, leaves[n - 1]!);
      expect(hex(frontierRoot(frontier)), `size ${n}`).toBe(hex(big.root(n)));
      expect(hex(merkleRoot(leaves.slice(0, n)))).toBe(hex(big.root(n)));
      const decoded = decodeFrontier(n, encodeFrontier(frontier))!;
      expect(hex(frontierRoot(decoded))).toBe(hex(big.root(n)));
    }
    expect(decodeFrontier(3, Buffer.alloc(32))).toBeUndefined();
  });

  it('extends a frontier in bulk from any size by any run of leaves to the same tree head', () => {
    for (let from = 0; from <= leaves.length; from += 7) {
      let start = emptyFrontier();
      for (let i = 0; i < from; i++) start = appendLeaf(start, leaves[i]!);
      for (let to = from; to <= leaves.length; to += 5) {
        const extended = extendFrontier(start, Buffer.concat(leaves.slice(from, to)));
        expect(extended.size).toBe(to);
        expect(hex(frontierRoot(extended)), `${from}..${to}`).toBe(hex(to ? big.root(to) : EMPTY_ROOT));
      }
    }
  });

  it('verifies every inclusion proof in every tree size, and only at its own index', () => {
    for (let n = 1; n <= leaves.length; n++) {
      const root = big.root(n);
      for (let i = 0; i < n; i++) {
        const proof = big.inclusionProof(i, n);
        expect(rootFromInclusionProof(i, n, leaves[i]!, proof)?.equals(root), `${i}/${n}`).toBe(true);
        if (n > 1)
          expect(verifyInclusion((i + 1) % n, n, leaves[i]!, proof, root)).toBe(
            leaves[i]!.equals(leaves[(i + 1) % n]!),
          );
      }
    }
  });

  it('verifies every consistency proof between any two sizes, and rejects a changed leaf', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 70 }), (a, b) => {
        const [m, n] = a <= b ? [a, b] : [b, a];
        const proof = big.consistencyProof(m, n);
        expect(verifyConsistency(m, n, big.root(m), big.root(n), proof)).toBe(true);
        if (m > 0 && m < n) {
          const forked = MerkleTree.fromLeafHashes([
            ...leaves.slice(0, m - 1),
            leafHash('forged'),
            ...leaves.slice(m),
          ]);
          expect(verifyConsistency(m, n, big.root(m), forked.root(n), forked.consistencyProof(m, n))).toBe(
            false,
          );
        }
      }),
    );
  });

  it('refuses proofs for positions outside the tree', () => {
    expect(() => big.inclusionProof(70, 70)).toThrow(RangeError);
    expect(() => big.consistencyProof(5, 71)).toThrow(RangeError);
    expect(rootFromInclusionProof(3, 3, leaves[0]!, [])).toBeUndefined();
    expect(verifyInclusion(0, 1, Buffer.alloc(31), [], leaves[0]!)).toBe(false);
  });
});
