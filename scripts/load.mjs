// A steady HTTP load for the story and benchmarks: N concurrent keep-alive clients against a URL,
// recording each response's status, latency and the release version it came from. Bounded in time.
import { Agent, request } from 'node:http';

export class Load {
  constructor(url, { concurrency = 8, timeoutMs = 5000 } = {}) {
    this.url = new URL(url);
    this.concurrency = concurrency;
    this.timeoutMs = timeoutMs;
    this.agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    this.samples = [];
    this.running = false;
  }

  start(maxMs = 600_000) {
    this.running = true;
    const stopAt = Date.now() + maxMs;
    this.workers = Array.from({ length: this.concurrency }, async () => {
      while (this.running && Date.now() < stopAt) await this.once();
    });
    return this;
  }

  once() {
    const t0 = performance.now();
    return new Promise((resolve) => {
      const req = request(this.url, { agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          let version;
          try {
            version = JSON.parse(Buffer.concat(chunks).toString()).version;
          } catch {}
          this.samples.push({ at: Date.now(), ms: performance.now() - t0, status: res.statusCode, version });
          resolve();
        });
        res.on('error', () => resolve(this.fail(t0)));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(this.fail(t0)));
      req.end();
    });
  }

  fail(t0) {
    this.samples.push({ at: Date.now(), ms: performance.now() - t0, status: 0 });
  }

  async stop() {
    this.running = false;
    await Promise.all(this.workers ?? []);
    this.agent.destroy();
  }

  /** Requests, failures (non-2xx or no response), p99 and versions seen in [from, to). */
  summary(from = 0, to = Number.POSITIVE_INFINITY) {
    const s = this.samples.filter((x) => x.at >= from && x.at < to);
    const ms = s.map((x) => x.ms).sort((a, b) => a - b);
    const versions = {};
    for (const x of s) if (x.version) versions[x.version] = (versions[x.version] ?? 0) + 1;
    const failures = s.filter((x) => !(x.status >= 200 && x.status < 300));
    const failuresByVersion = {};
    for (const x of failures)
      failuresByVersion[x.version ?? 'none'] = (failuresByVersion[x.version ?? 'none'] ?? 0) + 1;
    return {
      requests: s.length,
      failures: failures.length,
      failuresByVersion,
      p99Ms: ms.length ? Math.round(ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))]) : 0,
      versions,
    };
  }

  /** First sample at or after `from` served by `version`. */
  firstServedBy(version, from) {
    return this.samples.find((x) => x.at >= from && x.version === version && x.status === 200);
  }
}
