/**
 * Crash-loop backoff per release and environment: the first failure is replaced at once, each one
 * after it waits twice as long (0.5 s, 1 s, 2 s … up to 30 s); failures older than five minutes
 * are forgotten. Pure: the clock is passed in.
 */

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 30_000;
export const FAILURE_MEMORY_MS = 5 * 60_000;

export class CrashBackoff {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number) {}

  /** Records a failure of `key` (`env/release`) now. */
  note(key: string): void {
    const now = this.now();
    const recent = (this.failures.get(key) ?? []).filter((t) => now - t < FAILURE_MEMORY_MS);
    recent.push(now);
    this.failures.set(key, recent);
  }

  /** How long a new start of `key` must still wait; 0 when it may start now. */
  remainingMs(key: string): number {
    const recent = (this.failures.get(key) ?? []).filter((t) => this.now() - t < FAILURE_MEMORY_MS);
    if (recent.length < 2) return 0;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (recent.length - 2));
    return Math.max(0, recent.at(-1)! + delay - this.now());
  }
}
