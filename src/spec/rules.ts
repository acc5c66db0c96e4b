/**
 * Rules that span more than one value of cairn.yaml: references between sections, cycles, secrets
 * written where they would be baked in, conflicting listeners. Pure: file existence is asked of a
 * function passed in. Works on a partial spec (values that failed the schema are absent).
 */
import { closest } from '../lib/index.js';
import { checkArgs } from './arg-rules.js';
import { checkConfigFiles } from './config-file-rules.js';
import { checkInClusterRoutes, checkKubernetes, checkSharedNamespaces } from './kubernetes-rules.js';
import { checkMounts } from './mount-rules.js';
import { checkProjectPaths } from './path-rules.js';
import type { PathPart } from './validate.js';

type Obj = Record<string, unknown>;
export type FileKind = 'file' | 'dir' | undefined;

export interface RuleContext {
  /** Reports a problem at the value (or, with `at: 'key'`, the key) found at `path`. */
  error(path: PathPart[], message: string, at?: 'key' | 'value'): void;
  warn(path: PathPart[], message: string, at?: 'key' | 'value'): void;
  /** What exists at a path relative to cairn.yaml. */
  fileKind(relPath: string): FileKind;
  /** Where a path relative to cairn.yaml really leads when that is outside the project folder. */
  outsideProject(relPath: string): string | undefined;
  /** The size in bytes of a file relative to cairn.yaml (absent: sizes are not checked). */
  fileBytes?(relPath: string): number | undefined;
}

const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|ACCESS_?KEY)$/i;
const SECRET_VALUE = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /\bAKIA[0-9A-Z]{16}\b/,
  /\bgh[pousr]_[A-Za-z0-9]{30,}\b/,
  /\bxox[baprs]-[A-Za-z0-9-]{10,}/,
  /\bsk_live_[A-Za-z0-9]{16,}/,
];

/** A secret's file under /run/secrets: one plain name, no folders. */
const SECRET_FILE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** Ports an isolated instance's host address uses for the services it may call (run.network.allow). */
const PEER_PORTS = [40000, 40099] as const;
/** Variables cairn itself sets in every instance. */
const RESERVED_ENV = ['PORT', 'HOST', 'CAIRN_HOST', 'CAIRN_SECRETS_DIR'];
const asObj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function checkRules(spec: Obj, ctx: RuleContext): void {
  const services = asObj(spec.services);
  for (const [name, service] of Object.entries(services)) checkService(name, asObj(service), ctx);
  for (const [name, service] of Object.entries(services)) checkAllow(name, asObj(service), services, ctx);
  for (const [name, service] of Object.entries(services))
    checkServiceEnvironments(name, asObj(service), asObj(spec.environments), ctx);
  for (const [name, service] of Object.entries(services)) checkConfigFiles(name, asObj(service), ctx);
  for (const [name, service] of Object.entries(services)) checkTls(name, asObj(service), spec, ctx);
  checkEnvironments(asObj(spec.environments), ctx);
  checkRoutes(asList(spec.routes), services, ctx);
  checkInClusterRoutes(asObj(spec.environments), asList(spec.routes), ctx);
  checkAcceptances(asList(asObj(spec.vuln).ignore), services, ctx);
  checkProjectPaths(spec, ctx);
}

function checkService(name: string, service: Obj, ctx: RuleContext): void {
  const at = ['services', name];
  const build = asObj(service.build);
  if (typeof build.context === 'string' && ctx.fileKind(build.context) !== 'dir') {
    ctx.error(
      [...at, 'build', 'context'],
      `build context "${build.context}" is not a folder next to cairn.yaml`,
    );
  }
  for (const [target, source] of Object.entries(asObj(build.files))) {
    if (typeof source === 'string' && ctx.fileKind(source) !== 'file') {
      ctx.error([...at, 'build', 'files', target], `file "${source}" for ${target} does not exist`);
    }
  }
  for (const [key, value] of Object.entries(asObj(build.env))) {
    if (typeof value !== 'string') continue;
    if ((SECRET_NAME.test(key) && value !== '') || SECRET_VALUE.some((re) => re.test(value))) {
      ctx.error(
        [...at, 'build', 'env', key],
        `build.env.${key} looks like a secret and would be baked into the image (value not shown); ` +
          `list ${key} under run.secrets and store it with \`cairn secret set ${key}\``,
      );
    }
  }
  checkRun(at, asObj(service.run), ctx);
  checkMounts(at, service, ctx);
  checkArgs(at, service, ctx);
  checkDeploy(at, asObj(service.deploy), ctx);
}

function checkRun(at: PathPart[], run: Obj, ctx: RuleContext): void {
  checkSecretRefs([...at, 'run', 'secrets'], asList(run.secrets), ctx);
  asList(asObj(run.network).egress).forEach((dest, i) => {
    if (typeof dest !== 'string') return;
    const port = Number(dest.slice(dest.lastIndexOf(':') + 1));
    if (!/^(127\.0\.0\.1|localhost):\d+$/.test(dest))
      ctx.error(
        [...at, 'run', 'network', 'egress', i],
        `"${dest}" is not on this host: egress reaches services on 127.0.0.1 only (write 127.0.0.1:PORT)`,
      );
    else if (port >= PEER_PORTS[0] && port <= PEER_PORTS[1])
      ctx.error(
        [...at, 'run', 'network', 'egress', i],
        `port ${port} is one cairn uses for run.network.allow (${PEER_PORTS[0]}–${PEER_PORTS[1]}); the instance could not reach it`,
      );
  });
}

/**
 * run.tls needs an SVID to serve with (`identity:`) and a gateway that checks the instance's SPIFFE
 * ID: the haproxy engine can verify a chain but not match a URI SAN, so it is refused.
 */
function checkTls(name: string, service: Obj, spec: Obj, ctx: RuleContext): void {
  if (asObj(service.run).tls !== true) return;
  const at = ['services', name, 'run', 'tls'];
  if (spec.identity === undefined)
    ctx.error(
      at,
      `${name} serves TLS with its SVID, which needs workload identity: add a top-level \`identity: {}\``,
    );
  for (const [env, environment] of Object.entries(asObj(spec.environments))) {
    if (asObj(asObj(environment).gateway).engine === 'haproxy')
      ctx.error(
        at,
        `environment ${env} uses gateway.engine: haproxy, which cannot check an instance's SPIFFE ID; ` +
          'use the builtin engine there, or drop run.tls',
      );
    // Its pods have no SVID to connect with: they refuse a whole configuration with a tls pool.
    if (typeof asObj(asObj(environment).kubernetes).gatewayNamespace === 'string')
      ctx.error(
        at,
        `environment ${env} runs its gateway in the cluster (gatewayNamespace), which has no SVID to reach TLS instances yet; ` +
          'drop run.tls, or remove gatewayNamespace',
      );
  }
}

/** run.network.allow names other services of the spec. */
function checkAllow(name: string, service: Obj, services: Obj, ctx: RuleContext): void {
  const allow = asList(asObj(asObj(service.run).network).allow);
  allow.forEach((peer, i) => {
    if (typeof peer !== 'string') return;
    const at = ['services', name, 'run', 'network', 'allow', i];
    if (peer === name)
      ctx.error(at, `${name} reaches its own instances on its loopback; list other services only`);
    else if (!Object.hasOwn(services, peer)) {
      const hint = closest(peer, Object.keys(services));
      ctx.error(at, `there is no service "${peer}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
    } else if (allow.indexOf(peer) !== i) ctx.error(at, `${peer} is listed twice`);
  });
}

/**
 * services.X.environments names environments of the spec; its variables are neither cairn's own,
 * nor given by a secret, nor secret-looking (they are shown by plan and recorded in the audit log).
 */
function checkServiceEnvironments(name: string, service: Obj, environments: Obj, ctx: RuleContext): void {
  const secretVars = new Set(
    asList(asObj(service.run).secrets).flatMap((ref) => {
      const env = asObj(ref).env;
      return typeof env === 'string' ? [env] : [];
    }),
  );
  for (const [env, settings] of Object.entries(asObj(service.environments))) {
    const at = ['services', name, 'environments', env];
    if (!Object.hasOwn(environments, env)) {
      const hint = closest(env, Object.keys(environments));
      ctx.error(at, `there is no environment "${env}"${hint ? ` (did you mean "${hint}"?)` : ''}`, 'key');
    }
    for (const [key, value] of Object.entries(asObj(asObj(settings).env))) {
      if (RESERVED_ENV.includes(key)) ctx.error([...at, 'env', key], `${key} is set by cairn itself`, 'key');
      else if (secretVars.has(key))
        ctx.error([...at, 'env', key], `${key} is already given a secret by run.secrets`, 'key');
      else if (
        typeof value === 'string' &&
        (SECRET_NAME.test(key) || SECRET_VALUE.some((re) => re.test(value)))
      )
        ctx.error(
          [...at, 'env', key],
          `environments.${env}.env.${key} looks like a secret and would be shown by plan and recorded (value not shown); ` +
            `list ${key} under run.secrets and store it with \`cairn secret set ${key}\``,
        );
    }
  }
}

/** No variable or file is given two secrets; file names stay inside /run/secrets. */
function checkSecretRefs(at: PathPart[], refs: unknown[], ctx: RuleContext): void {
  const seen = new Map<string, number>();
  refs.forEach((ref, i) => {
    if (!ref || typeof ref !== 'object') return;
    const { name, env, file } = ref as { name?: string; env?: string; file?: string };
    const target = env === undefined && file === undefined ? { file: name } : { env, file };
    if (target.file !== undefined && !SECRET_FILE.test(target.file))
      ctx.error(
        [...at, i, 'file'],
        `"${target.file}" is not a file name: use letters, digits, ".", "_" and "-" (no folders)`,
      );
    if (env !== undefined && RESERVED_ENV.includes(env))
      ctx.error([...at, i, 'env'], `${env} is set by cairn; name another variable`);
    for (const [kind, value] of Object.entries(target)) {
      if (value === undefined) continue;
      const key = `${kind} ${value}`;
      const first = seen.get(key);
      if (first !== undefined)
        ctx.error([...at, i], `${kind} ${value} is already given a secret by run.secrets[${first}]`);
      else seen.set(key, i);
    }
  });
}

function checkDeploy(at: PathPart[], deploy: Obj, ctx: RuleContext): void {
  const steps = asList(deploy.steps);
  if (typeof deploy.strategy === 'string' && deploy.strategy !== 'canary' && steps.length > 0) {
    ctx.warn(
      [...at, 'deploy', 'steps'],
      `steps are used by the canary strategy only, not ${String(deploy.strategy)}`,
      'key',
    );
  }
  if (deploy.preview !== undefined && deploy.strategy !== 'bluegreen') {
    ctx.warn(
      [...at, 'deploy', 'preview'],
      `preview is used by the bluegreen strategy only, not ${String(deploy.strategy ?? 'rolling')}`,
      'key',
    );
  }
  let lastWeight = 0;
  steps.forEach((raw, i) => {
    const step = asObj(raw);
    const kinds = ['weight', 'pause', 'analysis'].filter((k) => k in step);
    const path = [...at, 'deploy', 'steps', i];
    if (kinds.length !== 1) {
      ctx.error(
        path,
        `a step is exactly one of weight, pause or analysis, this one has ${kinds.length ? kinds.join(' and ') : 'none'}`,
      );
    }
    if ('pauseMs' in step && !('weight' in step))
      ctx.error(path, 'pauseMs goes with a weight; use pause: {durationMs} on its own');
    if (typeof step.weight === 'number') {
      if (step.weight < lastWeight)
        ctx.error([...path, 'weight'], `weight ${step.weight} is lower than the step before (${lastWeight})`);
      lastWeight = step.weight;
    }
  });
  if (deploy.strategy === 'rolling' && deploy.maxSurge === 0 && deploy.maxUnavailable === 0) {
    ctx.error(
      [...at, 'deploy', 'maxSurge'],
      'a rolling update with maxSurge 0 and maxUnavailable 0 can never make progress; set maxSurge to 1',
    );
  }
}

function checkEnvironments(envs: Obj, ctx: RuleContext): void {
  const names = Object.keys(envs);
  const listeners = new Map<string, string>();
  for (const [name, raw] of Object.entries(envs)) {
    const env = asObj(raw);
    if (typeof env.after === 'string' && !(env.after in envs)) {
      const hint = closest(env.after, names);
      ctx.error(
        ['environments', name, 'after'],
        `after: unknown environment "${env.after}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
      );
    }
    const listen = asObj(env.gateway).listen;
    if (typeof listen === 'string') {
      const other = listeners.get(listen);
      if (other)
        ctx.error(
          ['environments', name, 'gateway', 'listen'],
          `${listen} is already the gateway of environment ${other}`,
        );
      else listeners.set(listen, name);
    }
    asList(asObj(env.trust).keys).forEach((key, i) => {
      if (typeof key === 'string' && ctx.fileKind(key) !== 'file') {
        ctx.error(['environments', name, 'trust', 'keys', i], `trusted key "${key}" does not exist`);
      }
    });
    if (env.requireSignature === true && asList(asObj(env.trust).keys).length === 0) {
      ctx.error(
        ['environments', name, 'requireSignature'],
        `environment ${name} requires a signature but trusts no key; list public keys under environments.${name}.trust.keys`,
      );
    }
    asList(env.policies).forEach((file, i) => {
      if (typeof file === 'string' && ctx.fileKind(file) !== 'file') {
        ctx.error(['environments', name, 'policies', i], `policy file "${file}" does not exist`);
      }
    });
    checkKubernetes(name, env, ctx);
  }
  checkSharedNamespaces(envs, ctx);
  for (const cycle of findCycles(envs)) {
    ctx.error(
      ['environments', cycle[0]!, 'after'],
      `environments form a cycle through after: ${[...cycle, cycle[0]].join(' → ')}`,
    );
  }
}

/** Each cycle of `after:` once, starting from its alphabetically first environment. */
export function findCycles(envs: Obj): string[][] {
  const cycles = new Map<string, string[]>();
  for (const start of Object.keys(envs)) {
    const seen: string[] = [];
    let current: string | undefined = start;
    while (current !== undefined && !seen.includes(current)) {
      seen.push(current);
      const after: unknown = asObj(envs[current]).after;
      current = typeof after === 'string' && after in envs ? after : undefined;
    }
    if (current === undefined) continue;
    const cycle = seen.slice(seen.indexOf(current));
    const first = [...cycle].sort()[0]!;
    const rotated = [...cycle.slice(cycle.indexOf(first)), ...cycle.slice(0, cycle.indexOf(first))];
    cycles.set(rotated.join('>'), rotated);
  }
  return [...cycles.values()];
}

function checkRoutes(routes: unknown[], services: Obj, ctx: RuleContext): void {
  const seen = new Map<string, number>();
  routes.forEach((raw, i) => {
    const route = asObj(raw);
    if (typeof route.service === 'string') {
      const target = services[route.service];
      if (target === undefined) {
        const hint = closest(route.service, Object.keys(services));
        ctx.error(
          ['routes', i, 'service'],
          `route to unknown service "${route.service}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
      }
    }
    const key = `${String(route.host)} ${String(route.path)}`;
    const first = seen.get(key);
    if (first !== undefined)
      ctx.error(
        ['routes', i],
        `routes[${first}] already matches host ${String(route.host)} and path ${String(route.path)}`,
      );
    else seen.set(key, i);
  });
}

function checkAcceptances(ignores: unknown[], services: Obj, ctx: RuleContext): void {
  ignores.forEach((raw, i) => {
    asList(asObj(raw).services).forEach((service, j) => {
      if (typeof service === 'string' && !(service in services)) {
        const hint = closest(service, Object.keys(services));
        ctx.error(
          ['vuln', 'ignore', i, 'services', j],
          `acceptance for unknown service "${service}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
      }
    });
  });
}
