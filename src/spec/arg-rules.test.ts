import { describe, expect, it } from 'vitest';
import { varReferences } from './arg-rules.js';
import { parseSpec } from './parse.js';

const spec = (entrypoint: string) => `project: p
services:
  web:
    build: { context: ./app, entrypoint: ${entrypoint}, env: { MODE: prod } }
    run: { port: 8080, secrets: [{ name: db, env: DB_PASSWORD }] }
environments:
  dev: { gateway: { listen: "127.0.0.1:9000" } }
`;
const warnings = (text: string) =>
  parseSpec(text, 'cairn.yaml', (rel) => (rel === './app' ? 'dir' : 'file')).diagnostics.map(
    (d) => `${d.severity} ${d.line}:${d.column} ${d.message}`,
  );

describe('$(VAR) in build.entrypoint', () => {
  it('finds references as the runtime expands them', () => {
    expect(varReferences('--port=$(PORT) $$(ESCAPED) $(A)$(B) $NOPE $(')).toEqual(['PORT', 'A', 'B']);
  });

  it("accepts cairn's variables and build.env, and warns about unknown names and secrets", () => {
    expect(warnings(spec('[node, s.js, "--port", "$(PORT)", "$(MODE)", "$$(LITERAL)"]'))).toEqual([]);
    expect(warnings(spec('[node, s.js, "$(PROT)", "$(DB_PASSWORD)"]'))).toEqual([
      expect.stringMatching(/^warning 4:55 \$\(PROT\) is not a variable cairn sets or build.env defines/),
      expect.stringMatching(
        /^warning 4:66 \$\(DB_PASSWORD\) names a secret: secrets are never put on a command line/,
      ),
    ]);
  });
});
