/**
 * Reads a secret value from stdin: everything piped in, byte for byte, or one line typed at a
 * prompt that echoes nothing. Never from the arguments, never printed.
 */
import { CairnError } from '../lib/index.js';

const CTRL_C = 0x03;
const CTRL_D = 0x04;
const BACKSPACE = [0x08, 0x7f];
const ENTER = [0x0a, 0x0d];

export async function readSecretValue(prompt: string, stderr: (text: string) => void): Promise<Buffer> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
  stderr(prompt);
  return new Promise((resolve, reject) => {
    const typed: number[] = [];
    const done = (error?: CairnError) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      stderr('\n');
      if (error) reject(error);
      else resolve(Buffer.from(typed));
      typed.fill(0);
    };
    const onData = (data: Buffer) => {
      for (const byte of data) {
        if (byte === CTRL_C)
          return done(new CairnError('cancelled', 'storing the secret: cancelled, nothing stored'));
        if (ENTER.includes(byte) || byte === CTRL_D) return done();
        if (BACKSPACE.includes(byte)) typed.pop();
        else typed.push(byte);
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
