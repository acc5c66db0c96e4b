import { describe, expect, it } from 'vitest';
import { ValidationError } from '../lib/index.js';
import { AppendQueue } from './append-queue.js';
import type { AuditEntry, AuditEvent } from './entry.js';

const event = (i: number): AuditEvent => ({ action: 'instance.start', subject: { instance: `ins-${i}` } });

/** A writer that numbers entries like the log does and remembers each batch it was given. */
function recordingWriter(fail?: (batch: number) => boolean) {
  const batches: number[] = [];
  let next = 0;
  const write = (events: readonly AuditEvent[]) => {
    batches.push(events.length);
    if (fail?.(batches.length)) throw new Error('disk full');
    return events.map((e) =>
      e.action === 'bad' ? new ValidationError('bad event', []) : ({ ...e, index: next++ } as AuditEntry),
    );
  };
  return { batches, write };
}

describe('group commit', () => {
  it('writes every event queued in one turn as one batch, and the next turn as another', async () => {
    const w = recordingWriter();
    const queue = new AppendQueue(w.write);
    const first = await Promise.all(Array.from({ length: 100 }, (_, i) => queue.push(event(i))));
    const second = await queue.push(event(100));
    expect(w.batches).toEqual([100, 1]);
    expect(first.map((e) => e.index)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(second.index).toBe(100);
  });

  it('splits a queue longer than the batch limit', async () => {
    const w = recordingWriter();
    const queue = new AppendQueue(w.write, 40);
    await Promise.all(Array.from({ length: 100 }, (_, i) => queue.push(event(i))));
    expect(w.batches).toEqual([40, 40, 20]);
    expect(queue.pending).toBe(0);
  });

  it('refuses a malformed event alone; the rest of its batch is acknowledged', async () => {
    const w = recordingWriter();
    const queue = new AppendQueue(w.write);
    const results = await Promise.allSettled([
      queue.push(event(0)),
      queue.push({ action: 'bad', subject: {} }),
      queue.push(event(2)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(w.batches).toEqual([3]);
  });

  it('acknowledges nobody in a batch whose transaction failed, and goes on with the next batch', async () => {
    const w = recordingWriter((batch) => batch === 1);
    const queue = new AppendQueue(w.write);
    const failed = await Promise.allSettled([queue.push(event(0)), queue.push(event(1))]);
    expect(failed.map((r) => r.status === 'rejected' && String(r.reason))).toEqual([
      'Error: disk full',
      'Error: disk full',
    ]);
    expect((await queue.push(event(2))).index).toBe(0);
  });
});
