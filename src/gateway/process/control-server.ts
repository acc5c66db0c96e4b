/**
 * The gateway process's end of the control socket: a unix socket (0600, in a 0700 folder) that
 * answers the protocol's operations by calling the gateway. Several connections may be open (a
 * control plane, `cairn down`); each request is answered on the connection it came on.
 */
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { readJsonLines, writeJsonLine } from './json-lines.js';
import { type Operation, type Operations, PROTOCOL_VERSION, type RequestMessage } from './protocol.js';

/** One handler per operation. */
export type Handlers = {
  [K in Operation]: (args: Operations[K]['args']) => Promise<Operations[K]['result']>;
};

function isRequest(m: unknown): m is RequestMessage {
  const r = m as RequestMessage;
  return typeof r === 'object' && r !== null && typeof r.id === 'number' && typeof r.op === 'string';
}

async function answer(socket: Socket, handlers: Handlers, request: RequestMessage): Promise<void> {
  const reply = { v: PROTOCOL_VERSION, id: request.id };
  if (request.v !== PROTOCOL_VERSION || !Object.hasOwn(handlers, request.op)) {
    const message = `control request: unknown operation ${request.op} of protocol ${request.v}`;
    writeJsonLine(socket, { ...reply, ok: false, error: { code: 'unsupported', message } });
    return;
  }
  try {
    const handler = handlers[request.op] as (args: unknown) => Promise<unknown>;
    writeJsonLine(socket, { ...reply, ok: true, result: await handler(request.args ?? {}) });
  } catch (error) {
    const e = error as { code?: string; message?: string; hint?: string };
    const code = typeof e.code === 'string' ? e.code : 'failed';
    writeJsonLine(socket, { ...reply, ok: false, error: { code, message: String(e.message), hint: e.hint } });
  }
}

/** Listens on `path` (replacing a stale socket file) and serves `handlers`. */
export async function serveControl(path: string, handlers: Handlers): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    readJsonLines(socket, (message) => {
      if (isRequest(message)) void answer(socket, handlers, message);
      else socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}
