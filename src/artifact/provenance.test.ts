import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../lib/index.js';
import { CAIRN_BUILD_TYPE, provenanceProblems, slsaProvenance } from './provenance.js';

const INPUT = {
  service: 'hello',
  specPath: 'examples/hello/cairn.yaml',
  specDigest: sha256Digest('spec'),
  git: { commit: 'a'.repeat(40), dirty: false },
  base: { name: 'host:node', digest: sha256Digest('base') },
  lockfile: { path: 'examples/hello/app/package-lock.json', digest: sha256Digest('lock') },
  invocationId: 'cairn-build-1',
  startedOn: new Date('2026-01-01T00:00:00Z'),
  finishedOn: new Date('2026-01-01T00:00:05Z'),
  cairnVersion: '0.1.0',
};

describe('SLSA v1 provenance', () => {
  it('names the builder, the build type, the parameters, the resolved inputs and the times', () => {
    const p = slsaProvenance(INPUT);
    expect(p.buildDefinition.buildType).toBe(CAIRN_BUILD_TYPE);
    expect(p.buildDefinition.externalParameters).toEqual({
      spec: 'examples/hello/cairn.yaml',
      service: 'hello',
      gitCommit: 'a'.repeat(40),
      gitDirty: false,
    });
    expect(p.buildDefinition.resolvedDependencies).toEqual([
      { name: 'source', uri: 'git+file:.', digest: { gitCommit: 'a'.repeat(40) } },
      { name: 'spec', uri: 'file:examples/hello/cairn.yaml', digest: { sha256: INPUT.specDigest.slice(7) } },
      { name: 'base', uri: 'host:node', digest: { sha256: INPUT.base.digest.slice(7) } },
      {
        name: 'lockfile',
        uri: 'file:examples/hello/app/package-lock.json',
        digest: { sha256: INPUT.lockfile.digest.slice(7) },
      },
    ]);
    expect(p.runDetails.metadata).toEqual({
      invocationId: 'cairn-build-1',
      startedOn: '2026-01-01T00:00:00.000Z',
      finishedOn: '2026-01-01T00:00:05.000Z',
    });
    expect(provenanceProblems(p)).toEqual([]);
  });

  it('leaves out what is not known (no git, no lockfile) instead of inventing it', () => {
    const { git: _git, lockfile: _lockfile, ...rest } = INPUT;
    const p = slsaProvenance(rest);
    expect(p.buildDefinition.resolvedDependencies.map((d) => d.name)).toEqual(['spec', 'base']);
    expect(p.buildDefinition.externalParameters).not.toHaveProperty('gitCommit');
  });

  it('says what a malformed predicate lacks', () => {
    expect(provenanceProblems({ runDetails: {} })).toEqual([
      'no buildDefinition.buildType',
      'no resolvedDependencies',
      'no runDetails.builder.id',
    ]);
  });
});
