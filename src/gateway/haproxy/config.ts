/**
 * The haproxy.cfg of one environment's gateway: routes, edge policies and the sticky, weighted
 * choice of a release pool as HAProxy rules. Pure: the caller writes the text and the map files.
 *
 * Every service gets `POOL_SLOTS` backends (`<service>.p<k>`), each with up to `SERVER_SLOTS`
 * servers added and deleted at run time (`e<n>`). Releases and endpoints move in and out of those slots through the runtime API; the
 * split of a service is one map entry (`split.map`), so a weight change is one atomic `set map`.
 */
import { STICKY_COOKIE, STICKY_COOKIE_MAX_AGE_S } from '../sticky-cookie.js';
import type { GatewayLimits, GatewayRoute } from '../types.js';
import {
  bufferBytes,
  onRoute,
  policyRules,
  quote,
  refuse,
  routeRules,
  selectionRules,
} from './frontend-rules.js';
import { HOP_BY_HOP_LUA, HOP_BY_HOP_RULES } from './hop-by-hop.js';
import { POOL_SLOTS, type SlotView } from './slots.js';

export { mapPath, onRoute } from './frontend-rules.js';

/** Name of the frontend; log lines of requests answered by the gateway itself carry it as backend. */
export const FRONTEND = 'gateway';
/** Log fields for metrics, tab-separated: route, backend, server, status, microseconds. */
export const METRICS_LOG_FORMAT = '%[var(txn.route)]\\t%b\\t%s\\t%ST\\t%[date(0,us),sub(txn.t0)]';
/** With an access log, also: method, host, path, client, bytes sent. */
export const LOG_FORMAT = `${METRICS_LOG_FORMAT}\\t%HM\\t%[capture.req.hdr(0)]\\t%HU\\t%ci\\t%B`;

/** Where the engine keeps its files and how the control plane reaches it. */
export interface HaproxyLayout {
  /** The engine's private folder (0700): config, maps, admin socket, key files. */
  dir: string;
  host: string;
  port: number;
  /** Port of the control plane's log sink on 127.0.0.1 (access log and metrics). */
  logPort: number;
}

export interface HaproxyConfigInput {
  layout: HaproxyLayout;
  routes: GatewayRoute[];
  limits: GatewayLimits;
  pinHeader: boolean;
  stickyHeader?: string | undefined;
  trustForwarded: boolean;
  /** Current servers of every slot, so a restarted HAProxy comes back as it was. */
  slots: SlotView;
  /** Log every request's method, host, path, client and size too (for the JSON access log). */
  accessLog?: boolean;
  /** Extra frontend rules per route index (JWT authentication), inserted after the route is chosen. */
  authRules?: Map<number, string[]>;
}

/** Bodies of the answers HAProxy makes itself, in the built-in engine's JSON shape. */
const ERROR_BODIES: Record<number, string> = {
  400: 'send a well-formed HTTP/1.1 request with headers under the size limit',
  408: 'send the request head faster',
  500: 'gateway error: see the gateway log',
  502: 'the backend failed to answer',
  503: 'no endpoint of this service is available',
  504: 'the backend did not answer in time',
};

function globalSection(input: HaproxyConfigInput): string[] {
  const { dir } = input.layout;
  return [
    'global',
    '  nbthread 1',
    `  stats socket ${dir}/admin.sock mode 600 level admin expose-fd listeners`,
    `  lua-load ${dir}/${HOP_BY_HOP_LUA}`,
    `  tune.bufsize ${bufferBytes(input.limits)}`,
    '  tune.maxrewrite 1024',
    '',
    'ring cairn',
    '  format raw',
    '  maxlen 4096',
    '  size 8388608',
    '  timeout connect 2s',
    '  timeout server 10s',
    `  server control-plane 127.0.0.1:${input.layout.logPort} log-proto octet-count`,
    '',
  ];
}

function defaultsSection(limits: GatewayLimits): string[] {
  return [
    'defaults',
    '  mode http',
    `  timeout connect ${limits.connectTimeoutMs}`,
    `  timeout client ${limits.idleTimeoutMs}`,
    `  timeout http-request ${limits.headersTimeoutMs}`,
    `  timeout http-keep-alive ${limits.idleTimeoutMs}`,
    `  timeout server ${limits.firstByteTimeoutMs}`,
    '  timeout tunnel 1h',
    '  timeout client-fin 5s',
    '  retries 1',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response',
    '  http-reuse safe',
    ...Object.entries(ERROR_BODIES).map(
      ([status, message]) =>
        `  http-error status ${status} content-type application/json string ${quote(`{"error":"${message}"}`)}`,
    ),
    '',
  ];
}

function forwardRules(input: HaproxyConfigInput): string[] {
  if (input.trustForwarded)
    return [
      '  http-request set-header x-forwarded-for "%[req.hdr(x-forwarded-for)], %[src]" if { req.hdr(x-forwarded-for) -m found }',
      '  http-request set-header x-forwarded-for %[src] if !{ req.hdr(x-forwarded-for) -m found }',
      '  http-request set-header x-forwarded-proto http if !{ req.hdr(x-forwarded-proto) -m found }',
      '  http-request set-header x-forwarded-host %[req.hdr(host)] if { req.hdr(host) -m found }',
      '  http-request set-var(txn.secure) str(1) if { req.hdr(x-forwarded-proto) -m str https }',
    ];
  return [
    '  http-request del-header forwarded',
    '  http-request set-header x-forwarded-for %[src]',
    '  http-request set-header x-forwarded-proto http',
    '  http-request set-header x-forwarded-host %[req.hdr(host)] if { req.hdr(host) -m found }',
    '  http-request del-header x-forwarded-host if !{ req.hdr(host) -m found }',
  ];
}

/**
 * At most `maxConnectionsPerClient` open connections per client address, like the built-in engine;
 * one more is closed as soon as it is accepted (HAProxy cannot answer before reading a request).
 */
function perClientCap(limits: GatewayLimits): string[] {
  return [
    '  stick-table type ipv6 size 100k expire 30s store conn_cur',
    '  tcp-request connection track-sc1 src',
    `  tcp-request connection reject if { sc1_conn_cur gt ${limits.maxConnectionsPerClient} }`,
  ];
}

function frontendSection(input: HaproxyConfigInput): string[] {
  const { host, port } = input.layout;
  const cookie = `${STICKY_COOKIE}=%[var(txn.newkey)]; Path=/; Max-Age=${STICKY_COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax`;
  return [
    `frontend ${FRONTEND}`,
    `  bind ${host.includes(':') ? `[${host}]` : host}:${port}`,
    ...perClientCap(input.limits),
    '  log ring@cairn local0 info',
    `  log-format "${input.accessLog ? LOG_FORMAT : METRICS_LOG_FORMAT}"`,
    '  option http-ignore-probes',
    // A reload (new routes) soft-stops the old process: an idle keep-alive connection it holds is
    // kept until the client's next request, answered, then closed — never reset under a request.
    '  option idle-close-on-response',
    '  http-request set-var(txn.t0) date(0,us)',
    `  ${refuse(431, 'send smaller request headers')} if { req.hdrs,length gt ${input.limits.maxHeaderBytes} }`,
    // The gateway is no forward proxy: HAProxy would tunnel a CONNECT to whichever backend it routes to.
    `  ${refuse(501, 'send requests, not CONNECT: this is no forward proxy')} if METH_CONNECT`,
    ...(input.accessLog ? ['  http-request capture req.hdr(host) len 256'] : []),
    ...routeRules(input.routes),
    ...policyRules(input),
    ...selectionRules(input),
    '  http-request disable-l7-retry if !METH_GET !METH_HEAD !METH_OPTIONS !{ method TRACE PUT DELETE }',
    '  http-request del-header x-cairn-release',
    // Only cairn's identity hop says who called (docs/identity.md).
    '  http-request del-header x-cairn-caller- -m beg',
    ...HOP_BY_HOP_RULES,
    ...forwardRules(input),
    `  http-response add-header set-cookie ${quote(`${cookie}; Secure`)} if { var(txn.newkey) -m found } { var(txn.secure) -m found }`,
    `  http-response add-header set-cookie ${quote(cookie)} if { var(txn.newkey) -m found } !{ var(txn.secure) -m found }`,
    '  use_backend %[var(txn.svc)].p%[var(txn.slot)]',
    '',
  ];
}

function poolBackends(input: HaproxyConfigInput): string[] {
  const lines: string[] = [];
  const services = [...new Set(input.routes.map((r) => r.service))];
  for (const service of services)
    for (let k = 0; k < POOL_SLOTS; k++) {
      lines.push(`backend ${service}.p${k}`, '  balance leastconn');
      input.routes.forEach((route, i) => {
        if (route.service === service && route.timeoutMs !== undefined)
          lines.push(`  http-request set-timeout server ${route.timeoutMs} if ${onRoute(i)}`);
      });
      for (const s of input.slots.readyServers(service, k)) lines.push(`  server ${s.name} ${s.address}`);
      lines.push('');
    }
  return lines;
}

function rateLimitTables(routes: GatewayRoute[]): string[] {
  const lines: string[] = [];
  routes.forEach((route, i) => {
    if (!route.rateLimit) return;
    const burst = route.rateLimit.burst ?? Math.max(1, Math.ceil(route.rateLimit.rps));
    const periodMs = Math.max(1000, Math.round((burst / route.rateLimit.rps) * 1000));
    lines.push(
      `backend rl.${i}`,
      `  stick-table type ipv6 size 100k expire 60s store http_req_rate(${periodMs})`,
      '',
    );
  });
  return lines;
}

/** The whole haproxy.cfg text. Throws `ValidationError` for routes HAProxy rules cannot express. */
export function renderHaproxyConfig(input: HaproxyConfigInput): string {
  return [
    '# written by cairn: changes here are lost at the next start',
    ...globalSection(input),
    ...defaultsSection(input.limits),
    ...frontendSection(input),
    ...poolBackends(input),
    ...rateLimitTables(input.routes),
  ].join('\n');
}
