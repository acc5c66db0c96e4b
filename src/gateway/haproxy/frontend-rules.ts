/**
 * The frontend rules of the HAProxy engine: route matching, per-route edge policies, and the choice
 * of a release pool (pin header, sticky split point, fallback). Pure text.
 */
import { ValidationError } from '../../lib/index.js';
import { RouteTable } from '../route-table.js';
import { STICKY_COOKIE } from '../sticky-cookie.js';
import type { GatewayLimits, GatewayRoute } from '../types.js';
import type { HaproxyConfigInput } from './config.js';
import { POOL_SLOTS } from './slots.js';

const SAFE_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;

export function mapPath(dir: string, name: 'split' | 'pin'): string {
  return `${dir}/${name}.map`;
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

/** `{ var(txn.route) -m int N }`: the condition every route-specific rule carries (an int compares fastest). */
export function onRoute(index: number): string {
  return `{ var(txn.route) -m int ${index} }`;
}

/**
 * `http-request return` with the JSON error body the built-in engine answers (`{"error": …}`);
 * `message` may hold `%[…]` expressions, which must end in `json(utf8s)` when they carry input.
 */
export function refuse(status: number, message: string): string {
  return `http-request return status ${status} content-type application/json lf-string ${quote(`{"error":"${message}"}`)}`;
}

export function quote(text: string): string {
  return `"${text.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** Route matching: most specific host, then longest path prefix, as the built-in `RouteTable`. */
export function routeRules(routes: GatewayRoute[]): string[] {
  const table = new RouteTable(routes);
  // Only routes naming a host need the host, lower-cased and without its port.
  const lines = table.all().some((r) => r.hostRank > 0)
    ? ['  http-request set-var(txn.host) req.hdr(host),field(1,:),lower']
    : [];
  for (const r of table.all()) {
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
export function policyRules(input: HaproxyConfigInput): string[] {
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
export function selectionRules(input: HaproxyConfigInput): string[] {
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
  // One weighted pool (no canary under way): its slot is the first position, no sticky key needed.
  lines.push(
    `  http-request set-var(txn.slot) var(txn.split),field(${2 + POOL_SLOTS},:) if ${unpinned} { var(txn.split),field(1,:) -m int le 1 }`,
  );
  if (input.stickyHeader)
    lines.push(
      `  http-request set-var(txn.key) req.hdr(${input.stickyHeader}) if ${unpinned} { req.hdr(${input.stickyHeader}) -m found }`,
    );
  lines.push(
    `  http-request set-var(txn.key) req.cook(${STICKY_COOKIE}) if ${unpinned} !{ var(txn.key) -m found } { req.cook(${STICKY_COOKIE}) -m reg ^[A-Za-z0-9_-]{1,64}$ }`,
    `  http-request set-var(txn.key) uuid,set-var(txn.newkey) if ${unpinned} !{ var(txn.key) -m found } { var(txn.split),field(1,:) -m int gt 1 }`,
    `  http-request set-var(txn.pt) var(txn.key),xxh32,mod(10000) if ${unpinned} { var(txn.key) -m found }`,
    `  http-request set-var(txn.pt) int(0) if ${unpinned} !{ var(txn.pt) -m found }`,
  );
  for (let position = 0; position < POOL_SLOTS; position++) {
    const slotField = 2 + POOL_SLOTS + 2 * position;
    lines.push(
      `  http-request set-var(txn.end) var(txn.split),field(${slotField + 1},:) if ${unpinned}`,
      `  http-request set-var(txn.slot) var(txn.split),field(${slotField},:) if ${unpinned} { var(txn.pt),sub(txn.end) lt 0 }`,
    );
  }
  const services = [...new Set(input.routes.map((r) => r.service))];
  // A process that is stopping (the old one of a reload, finishing what it accepted) counts no
  // usable server in any backend: it must keep the slot it chose rather than fall back to none.
  for (const service of services)
    for (let k = 0; k < POOL_SLOTS; k++)
      lines.push(
        `  http-request set-var(txn.slot) var(txn.split),field(${2 + k},:) if { nbsrv(${service}.p${k}) lt 1 } !{ stopping } !{ var(txn.pin) -m found } { var(txn.svc) -m str ${service} } { var(txn.slot) -m str ${k} }`,
      );
  lines.push(
    `  ${refuse(503, `no endpoint of service %[var(txn.svc)] is available`)} if !{ var(txn.slot) -m found } || { var(txn.slot) -m str x }`,
  );
  return lines;
}
