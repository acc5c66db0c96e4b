import { describe, expect, it } from 'vitest';
import { parseSpec } from './parse.js';

const exists = () => 'dir' as const;
const SPEC = `project: shop
services:
  web:
    build: { context: ./app, entrypoint: [node, server.js] }
    run: { port: 8080 }
environments:
  dev: { gateway: { listen: "127.0.0.1:9000" } }
`;
const parse = (text: string) => parseSpec(text, 'cairn.yaml', exists);

describe('identity in cairn.yaml', () => {
  it('is off when absent and fills no defaults of its own', () => {
    expect(parse(SPEC).spec!.identity).toBeUndefined();
    const { spec, diagnostics } = parse(`${SPEC}identity: {}\n`);
    expect(diagnostics).toEqual([]);
    expect(spec!.identity).toEqual({});
  });

  it('reads a trust domain and a lifetime written as a duration', () => {
    const { spec } = parse(`${SPEC}identity:\n  trustDomain: shop.example\n  svidTtlMs: 10m\n`);
    expect(spec!.identity).toEqual({ trustDomain: 'shop.example', svidTtlMs: 600_000 });
  });

  it('refuses a trust domain that is not one, at its line and column', () => {
    const { diagnostics } = parse(`${SPEC}identity:\n  trustDomain: Shop/Example\n`);
    expect(diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual([
      '9:16 identity.trustDomain: "Shop/Example" is not a SPIFFE trust domain: use lower-case letters, digits, ".", "-" and "_"',
    ]);
  });

  it('refuses a lifetime under two seconds', () => {
    const { diagnostics } = parse(`${SPEC}identity: { svidTtlMs: 500 }\n`);
    expect(diagnostics[0]).toMatchObject({ line: 8, severity: 'error' });
  });

  it('takes run.tls with identity and leaves it out of the run settings otherwise', () => {
    const tls = SPEC.replace('run: { port: 8080 }', 'run: { port: 8080, tls: true }');
    const { spec, diagnostics } = parse(`${tls}identity: {}\n`);
    expect(diagnostics).toEqual([]);
    expect(spec!.services.web!.run.tls).toBe(true);
    expect(Object.hasOwn(parse(SPEC).spec!.services.web!.run, 'tls')).toBe(false);
  });

  it('refuses run.tls without identity, at its line and column', () => {
    const tls = SPEC.replace('run: { port: 8080 }', 'run: { port: 8080, tls: true }');
    const { diagnostics } = parse(tls);
    expect(diagnostics.map((d) => `${d.line}:${d.column} ${d.severity}`)).toEqual(['5:29 error']);
    expect(diagnostics[0]!.message).toContain('needs workload identity');
  });

  it('refuses run.tls where an environment runs the haproxy engine', () => {
    const tls = SPEC.replace('run: { port: 8080 }', 'run: { port: 8080, tls: true }').replace(
      '{ listen: "127.0.0.1:9000" }',
      '{ listen: "127.0.0.1:9000", engine: haproxy }',
    );
    const { diagnostics } = parse(`${tls}identity: {}\n`);
    expect(diagnostics.map((d) => d.message)).toEqual([
      expect.stringContaining('environment dev uses gateway.engine: haproxy, which cannot check'),
    ]);
  });
});
