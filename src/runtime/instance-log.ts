/**
 * Reading an instance's log file (its stdout and stderr, appended by the runtime): find it by id or
 * unique prefix, read the last lines, follow what is appended. The file outlives the instance.
 */
import { existsSync, readdirSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, NotFoundError } from '../lib/index.js';

const FOLLOW_POLL_MS = 200;
const READ_CHUNK_BYTES = 64 * 1024;

/** The log file of an instance id or unique id prefix (at least 4 characters) in `logsDir`. */
export function findInstanceLog(logsDir: string, idOrPrefix: string): { id: string; path: string } {
  const names = existsSync(logsDir) ? readdirSync(logsDir).filter((n) => /^ins-[a-z0-9]+\.log$/.test(n)) : [];
  const exact = names.find((n) => n === `${idOrPrefix}.log`);
  const matches = exact
    ? [exact]
    : idOrPrefix.length >= 4
      ? names.filter((n) => n.startsWith(idOrPrefix))
      : [];
  if (matches.length === 0) {
    throw new NotFoundError(`reading the log of ${idOrPrefix}: no instance with that id has a log here`, {
      hint: 'list instances with `cairn status` (ids start with ins-)',
    });
  }
  if (matches.length > 1) {
    throw new ConflictError(
      `reading the log of ${idOrPrefix}: the prefix matches ${matches.length} instances`,
      {
        hint: 'give more characters of the instance id',
      },
    );
  }
  const name = matches[0]!;
  return { id: name.slice(0, -'.log'.length), path: join(logsDir, name) };
}

/** The last `lines` lines of `text` (all of it when `lines` is undefined). Pure. */
export function lastLines(text: string, lines: number | undefined): string {
  if (lines === undefined) return text;
  const parts = text.split('\n');
  const trailing = parts.at(-1) === '' ? parts.pop() : undefined;
  return parts.slice(Math.max(0, parts.length - lines)).join('\n') + (trailing === '' ? '\n' : '');
}

/** Bytes of a log's end that `lastOutput` reads: enough for a few lines of a stack trace. */
const TAIL_BYTES = 4096;
/** Longest line `lastOutput` returns; the rest is cut. */
const TAIL_LINE_CHARS = 300;

/**
 * The last non-empty lines an instance wrote (stdout and stderr share its log), each cut to a
 * readable length; empty when the log is missing or empty.
 */
export async function lastOutput(path: string, lines = 3): Promise<string[]> {
  try {
    const size = (await stat(path)).size;
    const { text } = await readFrom(path, Math.max(0, size - TAIL_BYTES));
    return text
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l !== '')
      .slice(-lines)
      .map((l) => (l.length > TAIL_LINE_CHARS ? `${l.slice(0, TAIL_LINE_CHARS)}…` : l));
  } catch {
    return [];
  }
}

/** Reads bytes [from, end of file) and returns them with the new offset. */
export async function readFrom(path: string, from: number): Promise<{ text: string; offset: number }> {
  const file = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let offset = from;
    for (;;) {
      const { bytesRead, buffer } = await file.read(
        Buffer.alloc(READ_CHUNK_BYTES),
        0,
        READ_CHUNK_BYTES,
        offset,
      );
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
      offset += bytesRead;
    }
    return { text: Buffer.concat(chunks).toString('utf8'), offset };
  } finally {
    await file.close();
  }
}

/** Calls `onText` with whatever is appended after `offset`, until `signal` aborts. */
export async function followLog(
  path: string,
  offset: number,
  onText: (text: string) => void,
  signal: AbortSignal,
) {
  let at = offset;
  while (!signal.aborted) {
    const size = (await stat(path).catch(() => undefined))?.size ?? at;
    if (size < at) at = 0; // truncated or replaced: start over
    if (size > at) {
      const { text, offset: next } = await readFrom(path, at);
      at = next;
      if (text) onText(text);
    }
    await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
  }
}
