/**
 * The identity hop: an HTTPS listener on loopback where services call each other by identity. The
 * caller presents its SVID (mutual TLS); the hop verifies it against the workspace CA, checks that
 * the instance it names is live (so a replaced instance's SVID is refused at once, not at expiry)
 * and that its release allows the callee, then forwards the request over plain HTTP to a healthy
 * instance of the callee with `x-cairn-caller-spiffe-id` set. Only cairn sets that header: the hop
 * and the gateway drop any `x-cairn-caller-*` a client sends. `https://HOP/<service>/<path>` calls
 * `<service>` with `/<path>`. Refusals and the first call of each caller instance to each callee are
 * audit entries.
 */

import { X509Certificate } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, Agent as HttpsAgent, request as httpsRequest, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AuditEvent } from '../audit/index.js';
import { spiffeClientOptions } from '../gateway/index.js';
import { type CallerRecord, checkCall, type VerifiedSvid, verifySvid } from '../identity/index.js';

/** The header the callee reads the caller's verified SPIFFE ID from. */
export const CALLER_HEADER = 'x-cairn-caller-spiffe-id';
const CALLER_PREFIX = 'x-cairn-caller-';
/** One refusal entry per caller, reason and callee in this window; the rest are counted in it. */
const REFUSAL_WINDOW_MS = 10_000;

export interface IdentityHopDeps {
  trustDomain: string;
  bundlePem: string;
  /** The hop's own certificate and key (PEM). */
  cert: { certPem: string; keyPem: string };
  caller(svid: VerifiedSvid): CallerRecord | undefined;
  /**
   * Healthy endpoints of `service` in `env`: `host:port`, or with the SPIFFE ID an instance that
   * serves TLS with its SVID (`run.tls`) must present; the hop then connects with its own certificate.
   */
  endpoints(env: string, service: string): HopTarget[];
  record(event: AuditEvent): void;
  now?: () => Date;
}

/** Where the hop forwards a call: a plain endpoint, or one serving TLS as `spiffeId`. */
export type HopTarget = string | { address: string; spiffeId: string };

interface Admitted {
  svid: VerifiedSvid;
  targets: HopTarget[];
}

interface Refusal {
  status: number;
  reason: string;
  peer?: X509Certificate;
  svid?: VerifiedSvid;
}

export class IdentityHop {
  private readonly server: Server;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private readonly tlsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 256 });
  private cert: { certPem: string; keyPem: string };
  private readonly bundle: X509Certificate;
  private readonly refusals = new Map<string, { at: number; count: number }>();
  private readonly seen = new Set<string>();
  private readonly verified = new WeakMap<TLSSocket, VerifiedSvid>();
  private next = 0;

  constructor(private readonly deps: IdentityHopDeps) {
    this.cert = deps.cert;
    this.bundle = new X509Certificate(deps.bundlePem);
    this.server = createServer(
      {
        cert: deps.cert.certPem,
        key: deps.cert.keyPem,
        ca: deps.bundlePem,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => this.handle(req, res),
    );
    this.server.keepAliveTimeout = 30_000;
  }

  /** Listens on 127.0.0.1:`port` (0: any free port); returns the port. */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve((this.server.address() as { port: number }).port));
    });
  }

  /** A renewed certificate for the hop: new connections get it, open ones keep theirs. */
  renew(cert: { certPem: string; keyPem: string }): void {
    this.cert = cert;
    this.server.setSecureContext({ cert: cert.certPem, key: cert.keyPem, ca: this.deps.bundlePem });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
    this.agent.destroy();
    this.tlsAgent.destroy();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const { callee, path } = splitTarget(req.url ?? '/');
    const admitted = this.admit(req, callee);
    if ('reason' in admitted) {
      this.refuse(res, admitted, callee);
      return;
    }
    this.recordFirstCall(admitted.svid, callee!);
    this.forward(
      req,
      res,
      admitted.targets[this.next++ % admitted.targets.length]!,
      path,
      admitted.svid.spiffeId,
    );
  }

  /** Who calls, and where the call goes; or why it is refused. */
  private admit(req: IncomingMessage, callee: string | undefined): Admitted | Refusal {
    const socket = req.socket as TLSSocket;
    const peer = socket.getPeerX509Certificate();
    if (!peer) return { status: 401, reason: 'no client certificate: present your SVID (CAIRN_SVID_CERT)' };
    // A connection's certificate is verified once; its expiry and its instance, at every request.
    let svid = this.verified.get(socket);
    if (!svid) {
      const verdict = verifySvid(peer.raw, this.bundle, this.deps.trustDomain, this.now());
      if (!verdict.ok) return { status: 401, reason: `client certificate refused: ${verdict.reason}`, peer };
      svid = verdict.svid;
      this.verified.set(socket, svid);
    }
    if (this.now().getTime() > Date.parse(svid.notAfter)) {
      return { status: 401, reason: `client certificate refused: expired at ${svid.notAfter}`, peer, svid };
    }
    if (!callee)
      return { status: 404, reason: 'name the service to call: https://HOP/<service>/<path>', peer, svid };
    const targets = this.deps.endpoints(svid.env, callee);
    const decision = checkCall(svid, this.deps.caller(svid), callee, targets.length > 0);
    if (!decision.ok) return { status: decision.status, reason: decision.reason, peer, svid };
    return { svid, targets };
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    target: HopTarget,
    path: string,
    spiffeId: string,
  ): void {
    const endpoint = typeof target === 'string' ? target : target.address;
    const [host, port] = [
      endpoint.slice(0, endpoint.lastIndexOf(':')),
      endpoint.slice(endpoint.lastIndexOf(':') + 1),
    ];
    const options = {
      host,
      port: Number(port),
      method: req.method,
      path,
      headers: backendHeaders(req, spiffeId),
    };
    const send = (answer: IncomingMessage) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    };
    const upstream =
      typeof target === 'string'
        ? httpRequest({ ...options, agent: this.agent }, send)
        : // An instance serving TLS with its SVID (run.tls): the hop's certificate, the callee's ID.
          httpsRequest(
            {
              ...options,
              agent: this.tlsAgent,
              ...spiffeClientOptions(this.cert, this.deps.bundlePem, target.spiffeId),
            },
            send,
          );
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`calling ${endpoint}: ${error.message}\n`);
    });
    req.pipe(upstream);
  }

  private refuse(res: ServerResponse, refusal: Refusal, callee: string | undefined): void {
    const { status, reason, peer, svid } = refusal;
    res.writeHead(status, { 'content-type': 'text/plain' }).end(`refused: ${reason}\n`);
    const who = svid?.spiffeId ?? peer?.subjectAltName ?? 'anonymous';
    const key = `${who}\n${callee}\n${reason}`;
    const now = this.now().getTime();
    const last = this.refusals.get(key);
    if (last && now - last.at < REFUSAL_WINDOW_MS) {
      last.count += 1;
      return;
    }
    this.refusals.set(key, { at: now, count: 0 });
    this.deps.record({
      action: 'identity.call.refuse',
      subject: svid ? { service: svid.service, env: svid.env, ...instanceOf(svid) } : {},
      reason,
      detail: {
        caller: who,
        ...(peer ? { serial: peer.serialNumber.toLowerCase() } : {}),
        ...(callee ? { callee } : {}),
        status,
        ...(last?.count ? { refusedSinceLastEntry: last.count } : {}),
      },
    });
  }

  /** The first call of an instance to a service is recorded: who called whom, as which release. */
  private recordFirstCall(svid: VerifiedSvid, callee: string): void {
    const key = `${svid.instance}\n${callee}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.deps.record({
      action: 'identity.call.allow',
      subject: { service: svid.service, env: svid.env, ...instanceOf(svid) },
      reason: `first call to ${callee}`,
      detail: { caller: svid.spiffeId, serial: svid.serial, callee },
    });
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}

const instanceOf = (svid: VerifiedSvid) => ({
  ...(svid.instance ? { instance: svid.instance } : {}),
  ...(svid.release ? { release: svid.release } : {}),
});

/** `/<service>/<rest>` → the service and `/<rest>` (query kept). */
function splitTarget(url: string): { callee: string | undefined; path: string } {
  const match = /^\/([a-z][a-z0-9-]{0,62})(\/.*|\?.*)?$/.exec(url);
  if (!match) return { callee: undefined, path: '/' };
  const rest = match[2] ?? '/';
  return { callee: match[1], path: rest.startsWith('?') ? `/${rest}` : rest };
}

/** The caller's headers minus any it set itself in cairn's caller namespace, plus the verified ID. */
function backendHeaders(req: IncomingMessage, spiffeId: string): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (
      value === undefined ||
      name.startsWith(CALLER_PREFIX) ||
      name === 'connection' ||
      name === 'keep-alive'
    )
      continue;
    headers[name] = value;
  }
  headers[CALLER_HEADER] = spiffeId;
  return headers;
}
