/** The `host:port` a gateway listens on (`environments.<env>.gateway.listen`). */
import { createServer } from 'node:net';
import { ValidationError } from '../lib/index.js';

/** Splits `host:port` (`[::1]:8080` too); port 0 means any free port. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535)
    throw new ValidationError(
      `start gateway: listen address ${JSON.stringify(listen)} is not host:port`,
      [],
      {
        hint: 'set environments.<env>.gateway.listen to e.g. 127.0.0.1:8080',
      },
    );
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** A port free on `host` right now (the OS picks it; another process may take it before you do). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
