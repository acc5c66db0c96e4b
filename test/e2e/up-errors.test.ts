/**
 * `cairn up` when what it needs is taken: a user error that names the listener and who holds it,
 * exit 1, no stack trace, nothing left running.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

describe.each(['builtin', 'haproxy'] as const)(
  'cairn up (%s engine) with a gateway port already in use',
  (engine) => {
    let ws: HelloWorkspace | undefined;
    let holder: Server | undefined;
    afterAll(() => {
      holder?.close();
      ws?.cleanup();
    });

    it('Given another process listens on the gateway address, up exits 1 naming the environment, address and holder', async () => {
      const port = await freePort();
      holder = await new Promise<Server>((resolve) => {
        const s = createServer().listen(port, '127.0.0.1', () => resolve(s));
      });
      ws = new HelloWorkspace(helloSpec(port, '{ strategy: bluegreen }', engine));
      expect((await ws.runAsync(['init'])).code).toBe(0);
      for (const args of [['up', '--detach'], ['up']]) {
        const r = await ws.runAsync(args, 60_000);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(
          new RegExp(
            `error: starting the dev gateway on 127\\.0\\.0\\.1:${port}: it is already in use by .+ \\(pid ${process.pid}\\)`,
          ),
        );
        expect(r.stderr).toContain('hint: stop what listens there');
        expect(r.stderr).not.toMatch(/internal error|This is a bug|EADDRINUSE|\[ALERT\]|\n +at /);
        expect(existsSync(join(ws.dir, '.cairn/api.json'))).toBe(false);
      }
    }, 120_000);
  },
);
