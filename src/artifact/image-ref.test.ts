import { describe, expect, it } from 'vitest';
import { formatRegistryRef, isLoopbackRegistry, parseBaseSpec, parseRegistryRef } from './image-ref.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('registry references', () => {
  it('reads host, port, repository, tag and digest', () => {
    expect(parseRegistryRef('127.0.0.1:5000/team/hello:v1')).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'team/hello',
      tag: 'v1',
    });
    expect(parseRegistryRef(`ghcr.io/acme/node@${DIGEST}`)).toEqual({
      registry: 'ghcr.io',
      repository: 'acme/node',
      digest: DIGEST,
    });
    expect(formatRegistryRef(parseRegistryRef(`localhost:5000/a:b@${DIGEST}`))).toBe(
      `localhost:5000/a:b@${DIGEST}`,
    );
  });

  it('refuses references without a registry, with upper-case repositories or bad digests', () => {
    expect(() => parseRegistryRef('hello')).toThrow(/names no registry/);
    expect(() => parseRegistryRef('127.0.0.1:5000/Hello')).toThrow(/not a valid repository name/);
    expect(() => parseRegistryRef('127.0.0.1:5000/hello@sha256:abc')).toThrow(/not sha256/);
  });

  it('knows which registries are on this machine', () => {
    expect(isLoopbackRegistry('127.0.0.1:5000')).toBe(true);
    expect(isLoopbackRegistry('localhost')).toBe(true);
    expect(isLoopbackRegistry('[::1]:5000')).toBe(true);
    expect(isLoopbackRegistry('registry.example.com:5000')).toBe(false);
    expect(isLoopbackRegistry('127.0.0.1.nip.io')).toBe(false);
  });
});

describe('base specifications', () => {
  it('reads the three kinds of base', () => {
    expect(parseBaseSpec('host:node')).toEqual({ kind: 'host-node' });
    expect(parseBaseSpec('oci:./base:node:20')).toEqual({ kind: 'layout', path: './base', ref: 'node:20' });
    expect(parseBaseSpec(`127.0.0.1:5000/node@${DIGEST}`).kind).toBe('registry');
  });

  it('insists on a digest for registry bases and a ref for layouts', () => {
    expect(() => parseBaseSpec('127.0.0.1:5000/node:20')).toThrow(/must be pinned by digest/);
    expect(() => parseBaseSpec('oci:./base')).toThrow(/expected oci:PATH:REF/);
  });
});
