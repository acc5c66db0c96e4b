/** Newline-delimited JSON on a socket: each complete line becomes one parsed message. */
import type { Socket } from 'node:net';
import { MAX_LINE_BYTES } from './protocol.js';

/** Calls `onMessage` for each JSON line; a line that is too long or not JSON ends the connection. */
export function readJsonLines(socket: Socket, onMessage: (message: unknown) => void): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > MAX_LINE_BYTES) {
      socket.destroy();
      return;
    }
    let end = buffered.indexOf('\n');
    while (end >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (line.trim() !== '') {
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          socket.destroy();
          return;
        }
        onMessage(message);
      }
      end = buffered.indexOf('\n');
    }
  });
}

/** Writes one message as a JSON line (dropped when the socket is gone). */
export function writeJsonLine(socket: Socket, message: unknown): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(message)}\n`);
}
