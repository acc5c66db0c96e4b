/**
 * The gateway pod's admin listener (plain HTTP on the pod IP, read by the control plane through
 * the apiserver's pod proxy): readiness, liveness, the applied version with in-flight requests per
 * endpoint, the window metrics the rollout analysis reads, and Prometheus text.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { renderPrometheus } from '../prometheus.js';
import type { MetricsSnapshot, RecorderExport } from '../window-metrics.js';

/** What the admin listener shows of the running pod. */
export interface AdminView {
  /** The first config is applied and the data plane listens (and the pod is not stopping). */
  ready(): boolean;
  /** The applied document's version; null before the first. */
  version(): number | null;
  inflight(): Record<string, number>;
  exportMetrics(sinceSecond: number): RecorderExport;
  snapshot(): MetricsSnapshot;
}

/** One answer of the admin listener. */
export interface AdminAnswer {
  status: number;
  body: string;
  type: string;
}

const json = (status: number, value: unknown): AdminAnswer => ({
  status,
  body: `${JSON.stringify(value)}\n`,
  type: 'application/json',
});
const text = (status: number, body: string, type = 'text/plain'): AdminAnswer => ({ status, body, type });

/** The answer to `GET path?query` of the admin listener. */
export function answerAdmin(view: AdminView, method: string, target: string): AdminAnswer {
  const url = new URL(target, 'http://admin');
  if (method !== 'GET' && method !== 'HEAD') return json(405, { error: 'only GET' });
  switch (url.pathname) {
    case '/healthz':
      return view.ready() ? text(200, 'ok\n') : text(503, 'not ready\n');
    // Liveness: the process answers, whatever its config (a pod waiting for its first ConfigMap lives).
    case '/livez':
      return text(200, 'alive\n');
    case '/_cairn/status':
      return json(200, { version: view.version(), ready: view.ready(), inflight: view.inflight() });
    case '/_cairn/metrics': {
      const since = Number(url.searchParams.get('since') ?? '0');
      if (!Number.isSafeInteger(since) || since < 0)
        return json(400, { error: 'since must be a unix second (a whole number >= 0)' });
      return json(200, view.exportMetrics(since));
    }
    case '/metrics':
      return text(200, renderPrometheus(view.snapshot()), 'text/plain; version=0.0.4');
    default:
      return json(404, {
        error: `no ${url.pathname}; try /healthz, /livez, /_cairn/status, /_cairn/metrics?since=, /metrics`,
      });
  }
}

function send(res: ServerResponse, answer: AdminAnswer): void {
  res.writeHead(answer.status, {
    'content-type': answer.type,
    'content-length': Buffer.byteLength(answer.body),
  });
  res.end(answer.body);
}

/** Listens on `host:port`; resolves once bound. */
export function serveAdmin(host: string, port: number, view: AdminView): Promise<Server> {
  const server = createServer((req, res) => {
    try {
      send(res, answerAdmin(view, req.method ?? 'GET', req.url ?? '/'));
    } catch (error) {
      send(res, json(500, { error: (error as Error).message }));
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
