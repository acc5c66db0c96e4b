/**
 * The haproxy.cfg of one environment's gateway: routes, edge policies and the sticky, weighted
 * choice of a release pool as HAProxy rules. Pure: the caller writes the text and the map files.
 *
 * Every service gets `POOL_SLOTS` backends (`<service>.p<k>`), each with `SERVER_SLOTS` servers
 * (`e<n>`). Releases and endpoints move in and out of those slots through the runtime API; the
 * split of a service is one map entry (`split.map`), so a weight change is one atomic `set map`.
 */
import { ValidationError } from '../../lib/index.js';
import { RouteTable } from '../route-table.js';
import { STICKY_COOKIE, STICKY_COOKIE_MAX_AGE_S } from '../sticky-cookie.js';
import type { GatewayLimits, GatewayRoute } from '../types.js';
import { HOP_BY_HOP_LUA, HOP_BY_HOP_RULES } from './hop-by-hop.js';
import { POOL_SLOTS, SERVER_SLOTS, type SlotView } from './slots.js';

/** Name of the frontend; log lines of requests answered by the gateway itself carry it as backend. */
export const FRONTEND = 'gateway';
/** Log fields, tab-separated: route, backend, server, status, microseconds, method, host, path, client, bytes. */
export const LOG_FORMAT =
  '%[var(txn.route)]\\t%b\\t%s\\t%ST\\t%[date(0,us),sub(txn.t0)]\\t%HM\\t%[capture.req.hdr(0)]\\t%HU\\t%ci\\t%B';

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

const SAFE_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;

export function mapPath(dir: string, name: 'split' | 'pin'): string {
  return `${dir}/${name}.map`;
}

/** `{ var(txn.route) -m int N }`: the condition every route-specific rule carries (an int compares fastest). */
export function onRoute(index: number): string {
  return `{ var(txn.route) -m int ${index} }`;
}

/**
 * `http-request return` with the JSON error body the built-in engine answers (`{"error": …}`);
 * `message` may hold `%[…]` expressions, which must end in `json(utf8s)` when they carry input.
 */
function refuse(status: number, message: string): string {
  return `http-request return status ${status} content-type application/json lf-string ${quote(`{"error":"${message}"}`)}`;
}

function quote(text: string): string {
  return `"${text.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/**
 * The buffer size HAProxy runs with: twice the head limit plus the rewrite reserve, so a head over
 * the limit still parses and gets 431 from a rule; only one over twice the limit gets HAProxy's 400.
 */
export function bufferBytes(limits: GatewayLimits): number {
  return Math.max(16_384, 2 * limits.maxHeaderBytes + 1024);
}

/**
 * A streamed (chunked) body can be measured before forwarding only while it fits in the buffer
 * beside the head (assumed under 1 KiB) and the rewrite reserve; larger limits apply to
 * declared lengths only.
 */
function bodyBufferBytes(limits: GatewayLimits): number {
  return bufferBytes(limits) - 2048;
}

function globalSection(input: HaproxyConfigInput): string[] {
  const { dir } = input.layout;
  return [
    'global',
    '  nbthread 1',
    `  stats socket ${dir}/admin.sock mode 600 level admin`,
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

/** Route matching: most specific host, then longest path prefix, as the built-in `RouteTable`. */
function routeRules(routes: GatewayRoute[]): string[] {
  const lines = ['  http-request set-var(txn.host) req.hdr(host),field(1,:),lower'];
  for (const r of new RouteTable(routes).all()) {
    if (r.prefix !== '' && !SAFE_PATH.test(r.prefix))
      throw new ValidationError(
        `configure haproxy gateway: routes[${r.index}] path ${JSON.stringify(r.route.path)} has characters HAProxy rules cannot hold`,
        [],
        { hint: 'use letters, digits and URL punctuation in route paths, or the builtin engine' },
      );
    const host =
      r.hostRank === 2
        ? ` { var(txn.host) -m str ${r.hostKey} }`
        : r.hostRank === 1
          ? ` { var(txn.host) -m end ${r.hostKey} }`
          : '';
    const path =
      r.prefix === ''
        ? ''
        : ` { path -m str ${r.prefix} } || !{ var(txn.route) -m found }${host} { path -m beg ${r.prefix}/ }`;
    lines.push(
      `  http-request set-var(txn.route) int(${r.index}) if !{ var(txn.route) -m found }${host}${path}`,
    );
  }
  lines.push(
    `  ${refuse(404, `no route for host %[req.hdr(host),json(utf8s)]`)} if !{ var(txn.route) -m found }`,
  );
  routes.forEach((route, i) => {
    lines.push(`  http-request set-var(txn.svc) str(${route.service}) if ${onRoute(i)}`);
  });
  return lines;
}

/** Rate limit (429 + Retry-After), declared body size (413) and JWT rules of each route. */
function policyRules(input: HaproxyConfigInput): string[] {
  const lines: string[] = [];
  input.routes.forEach((route, i) => {
    if (route.rateLimit) {
      const { rps } = route.rateLimit;
      const burst = route.rateLimit.burst ?? Math.max(1, Math.ceil(rps));
      const retryAfter = Math.max(1, Math.ceil(1 / rps));
      lines.push(
        `  http-request track-sc0 src table rl.${i} if ${onRoute(i)}`,
        `  ${refuse(429, `slow down: rate limit exceeded`)} hdr retry-after ${retryAfter} if ${onRoute(i)} { sc_http_req_rate(0,rl.${i}) gt ${burst} }`,
      );
    }
    if (route.maxBodyBytes !== undefined && route.maxBodyBytes < bodyBufferBytes(input.limits))
      lines.push(
        `  http-request wait-for-body time 1s at-least ${route.maxBodyBytes + 1} if ${onRoute(i)} { req.hdr(transfer-encoding) -m found }`,
        `  ${refuse(413, `send a smaller body: the limit is ${route.maxBodyBytes} bytes`)} if ${onRoute(i)} { req.body_len gt ${route.maxBodyBytes} }`,
      );
    if (route.maxBodyBytes !== undefined)
      lines.push(
        `  ${refuse(413, `send a smaller body: the limit is ${route.maxBodyBytes} bytes`)} if ${onRoute(i)} { req.hdr_val(content-length) gt ${route.maxBodyBytes} }`,
      );
    lines.push(...(input.authRules?.get(i) ?? []));
  });
  return lines;
}

/** Pin header, sticky key, split point, the pool owning it, and a fallback pool with no servers up. */
function selectionRules(input: HaproxyConfigInput): string[] {
  const { dir } = input.layout;
  const lines = [
    `  http-request set-var(txn.split) var(txn.svc),map(${mapPath(dir, 'split')})`,
    `  ${refuse(503, `service %[var(txn.svc)] has no release taking traffic`)} if !{ var(txn.split) -m found }`,
  ];
  if (input.pinHeader)
    lines.push(
      '  http-request set-var(txn.pin) req.hdr(x-cairn-release)',
      `  http-request set-var(txn.slot) var(txn.svc),concat(/,txn.pin),map(${mapPath(dir, 'pin')},x) if { var(txn.pin) -m found }`,
      `  ${refuse(503, `release %[var(txn.pin),json(utf8s)] is not serving this service`)} if { var(txn.pin) -m found } { var(txn.slot) -m str x }`,
    );
  const unpinned = '!{ var(txn.slot) -m found }';
  if (input.stickyHeader)
    lines.push(
      `  http-request set-var(txn.key) req.hdr(${input.stickyHeader}) if ${unpinned} { req.hdr(${input.stickyHeader}) -m found }`,
    );
  lines.push(
    `  http-request set-var(txn.key) req.cook(${STICKY_COOKIE}) if ${unpinned} !{ var(txn.key) -m found } { req.cook(${STICKY_COOKIE}) -m reg ^[A-Za-z0-9_-]{1,64}$ }`,
    `  http-request set-var(txn.key) uuid,set-var(txn.newkey) if ${unpinned} !{ var(txn.key) -m found } { var(txn.split),field(1,:) -m int gt 1 }`,
    '  http-request set-var(txn.pt) var(txn.key),xxh32,mod(10000) if { var(txn.key) -m found }',
    '  http-request set-var(txn.pt) int(0) if !{ var(txn.pt) -m found }',
  );
  for (let position = 0; position < POOL_SLOTS; position++) {
    const slotField = 2 + POOL_SLOTS + 2 * position;
    lines.push(
      `  http-request set-var(txn.end) var(txn.split),field(${slotField + 1},:) if ${unpinned}`,
      `  http-request set-var(txn.slot) var(txn.split),field(${slotField},:) if ${unpinned} { var(txn.pt),sub(txn.end) lt 0 }`,
    );
  }
  const services = [...new Set(input.routes.map((r) => r.service))];
  for (const service of services)
    for (let k = 0; k < POOL_SLOTS; k++)
      lines.push(
        `  http-request set-var(txn.slot) var(txn.split),field(${2 + k},:) if { nbsrv(${service}.p${k}) lt 1 } !{ var(txn.pin) -m found } { var(txn.svc) -m str ${service} } { var(txn.slot) -m str ${k} }`,
      );
  lines.push(
    `  ${refuse(503, `no endpoint of service %[var(txn.svc)] is available`)} if !{ var(txn.slot) -m found } || { var(txn.slot) -m str x }`,
  );
  return lines;
}

function forwardRules(input: HaproxyConfigInput): string[] {
  if (input.trustForwarded)
    return [
      '  http-request set-header x-forwarded-for "%[req.hdr(x-forwarded-for)], %[src]" if { req.hdr(x-forwarded-for) -m found }',
      '  http-request set-header x-forwarded-for %[src] if !{ req.hdr(x-forwarded-for) -m found }',
      '  http-request set-header x-forwarded-proto http if !{ req.hdr(x-forwarded-proto) -m found }',
      '  http-request set-header x-forwarded-host %[req.hdr(host),json(utf8s)] if { req.hdr(host) -m found }',
      '  http-request set-var(txn.secure) str(1) if { req.hdr(x-forwarded-proto) -m str https }',
    ];
  return [
    '  http-request del-header forwarded',
    '  http-request set-header x-forwarded-for %[src]',
    '  http-request set-header x-forwarded-proto http',
    '  http-request set-header x-forwarded-host %[req.hdr(host),json(utf8s)] if { req.hdr(host) -m found }',
    '  http-request del-header x-forwarded-host if !{ req.hdr(host) -m found }',
  ];
}

function frontendSection(input: HaproxyConfigInput): string[] {
  const { host, port } = input.layout;
  const cookie = `${STICKY_COOKIE}=%[var(txn.newkey)]; Path=/; Max-Age=${STICKY_COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax`;
  return [
    `frontend ${FRONTEND}`,
    `  bind ${host.includes(':') ? `[${host}]` : host}:${port}`,
    '  log ring@cairn local0 info',
    `  log-format "${LOG_FORMAT}"`,
    '  option http-ignore-probes',
    '  http-request set-var(txn.t0) date(0,us)',
    `  ${refuse(431, 'send smaller request headers')} if { req.hdrs,length gt ${input.limits.maxHeaderBytes} }`,
    '  http-request capture req.hdr(host) len 256',
    ...routeRules(input.routes),
    ...policyRules(input),
    ...selectionRules(input),
    '  http-request disable-l7-retry if !METH_GET !METH_HEAD !METH_OPTIONS !{ method TRACE PUT DELETE }',
    '  http-request del-header x-cairn-release',
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
      for (let n = 1; n <= SERVER_SLOTS; n++) {
        const address = input.slots.address(service, k, n);
        const state = input.slots.serverState(service, k, n);
        lines.push(`  server e${n} ${address ?? '127.0.0.1:1'}${state === 'ready' ? '' : ' disabled'}`);
      }
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
