/**
 * Group commit for audit appends that stand alone: events queued during one turn of the event
 * loop are written in one transaction (one fsync), and each caller's promise settles only after
 * that transaction has committed — an acknowledged entry is on disk.
 */
import type { ValidationError } from '../lib/index.js';
import type { AuditEntry, AuditEvent } from './entry.js';

/** At most this many events per transaction; a longer queue is written in several. */
export const DEFAULT_MAX_BATCH = 4096;

/** Writes `events` in one committed transaction; per event the entry, or why that event was refused. */
export type WriteBatch = (events: readonly AuditEvent[]) => Array<AuditEntry | ValidationError>;

interface Waiting {
  event: AuditEvent;
  resolve: (entry: AuditEntry) => void;
  reject: (err: unknown) => void;
}

export class AppendQueue {
  private waiting: Waiting[] = [];
  private scheduled = false;

  constructor(
    private readonly write: WriteBatch,
    private readonly maxBatch = DEFAULT_MAX_BATCH,
  ) {}

  push(event: AuditEvent): Promise<AuditEntry> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ event, resolve, reject });
      this.schedule();
    });
  }

  /** Events still waiting for their transaction. */
  get pending(): number {
    return this.waiting.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate runs after the I/O callbacks of this turn, so every caller of this turn joins the batch.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.waiting.splice(0, this.maxBatch);
    if (this.waiting.length > 0) this.schedule();
    let results: Array<AuditEntry | ValidationError>;
    try {
      results = this.write(batch.map((w) => w.event));
    } catch (err) {
      // Nothing of the batch committed: every caller hears it, none is told its entry is safe.
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => {
      const result = results[i]!;
      if (result instanceof Error) w.reject(result);
      else w.resolve(result);
    });
  }
}
