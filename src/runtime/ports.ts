/** Loopback ports for instances: the kernel picks a free one, cairn passes it to the instance as PORT. */
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { RuntimeConfig } from './types.js';

export const LOOPBACK = '127.0.0.1';

/** A port free on 127.0.0.1 right now (the caller binds it soon after). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The runtime folders inside a workspace (`.cairn/bundles`, `.cairn/runtime`, `.cairn/logs`, `.cairn/volumes`). */
export function runtimeConfigFor(ws: { root: string; bundles: string; logs: string }): RuntimeConfig {
  return {
    bundlesDir: ws.bundles,
    runtimeDir: join(ws.root, 'runtime'),
    logsDir: ws.logs,
    volumesDir: join(ws.root, 'volumes'),
  };
}
