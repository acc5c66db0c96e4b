/** The `host:port` a gateway listens on (`environments.<env>.gateway.listen`). */
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
