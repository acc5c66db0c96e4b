/**
 * Failed logins per client address, in a sliding window: after `maxFailures` within `windowMs`
 * the address is refused until the oldest failure leaves the window. Pure; the clock is injected.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures = 5,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `client` may try again (0: it may try now). */
  retryAfterMs(client: string): number {
    const recent = this.recent(client);
    if (recent.length < this.maxFailures) return 0;
    return recent[0]! + this.windowMs - this.now();
  }

  fail(client: string): void {
    const recent = this.recent(client);
    recent.push(this.now());
    this.failures.set(client, recent);
  }

  succeed(client: string): void {
    this.failures.delete(client);
  }

  /** Forgets the clients whose failures have all left the window (bounds memory to recent clients). */
  sweep(): void {
    for (const client of [...this.failures.keys()]) this.recent(client);
  }

  private recent(client: string): number[] {
    const t = this.now();
    const kept = (this.failures.get(client) ?? []).filter((at) => at > t - this.windowMs);
    if (kept.length) this.failures.set(client, kept);
    else this.failures.delete(client);
    return kept;
  }
}
