/**
 * Token-bucket rate limiting per client key (the client IP). Memory is bounded: past `maxClients`
 * the least recently seen clients are forgotten, which only ever gives them a full bucket back.
 */

/** How many clients one limiter remembers. */
export const DEFAULT_MAX_CLIENTS = 100_000;

export interface RateDecision {
  allowed: boolean;
  /** When refused: whole seconds until a token is available (for `Retry-After`). */
  retryAfterS: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  readonly rps: number;
  readonly burst: number;
  private readonly maxClients: number;

  /** `rps` tokens are added per second up to `burst` (default: max(1, ceil(rps))). */
  constructor(rps: number, burst?: number, maxClients = DEFAULT_MAX_CLIENTS) {
    this.rps = rps;
    this.burst = burst ?? Math.max(1, Math.ceil(rps));
    this.maxClients = maxClients;
  }

  /** Takes one token for `key` at clock time `nowMs`. */
  take(key: string, nowMs: number): RateDecision {
    const bucket = this.refill(key, nowMs);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterS: 0 };
    }
    const waitMs = ((1 - bucket.tokens) / this.rps) * 1000;
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  /** Number of clients currently remembered. */
  get size(): number {
    return this.buckets.size;
  }

  private refill(key: string, nowMs: number): Bucket {
    let bucket = this.buckets.get(key);
    if (bucket) {
      // Re-insert so Map order is least-recently-seen first.
      this.buckets.delete(key);
      const elapsedS = Math.max(0, nowMs - bucket.updatedMs) / 1000;
      bucket.tokens = Math.min(this.burst, bucket.tokens + elapsedS * this.rps);
      bucket.updatedMs = nowMs;
    } else {
      bucket = { tokens: this.burst, updatedMs: nowMs };
      if (this.buckets.size >= this.maxClients) this.evictOldest();
    }
    this.buckets.set(key, bucket);
    return bucket;
  }

  private evictOldest(): void {
    const oldest = this.buckets.keys().next();
    if (!oldest.done) this.buckets.delete(oldest.value);
  }
}
