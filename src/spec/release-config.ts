/** The part of a service's spec that defines a release: what is built and how it runs. Pure. */
import type { Spec } from './types.js';

export interface ReleaseConfig {
  build: Record<string, unknown>;
  run: Record<string, unknown>;
}

/**
 * The release-defining settings of one service in one environment; deploy settings steer a
 * rollout, not a release. The environment's own variables (`services.X.environments.ENV.env`)
 * become `run.env`, and its configuration files — target → content digest, read by the caller
 * (`readConfigFiles`) — `run.files`; each is absent when there are none, so a service without
 * per-environment settings makes the same release everywhere, and promotion moves it unchanged.
 */
export function releaseConfig(
  spec: Spec,
  service: string,
  env?: string,
  files?: Record<string, string>,
): ReleaseConfig {
  const s = spec.services[service];
  if (!s) throw new RangeError(`no service ${service}`);
  const vars = env === undefined ? undefined : s.environments?.[env]?.env;
  const run = { ...s.run } as Record<string, unknown>;
  if (vars && Object.keys(vars).length > 0) run.env = sortedVars(vars);
  if (files && Object.keys(files).length > 0) run.files = sortedVars(files);
  return { build: { ...s.build }, run };
}

/**
 * A release carried into another environment: the same image and settings, with that
 * environment's variables and configuration files (target → digest, read by the caller) in place
 * of the ones it was made with. Pure.
 */
export function runForEnvironment(
  run: Record<string, unknown>,
  spec: Spec,
  service: string,
  env: string,
  files?: Record<string, string>,
): Record<string, unknown> {
  const { env: _previous, files: _previousFiles, ...rest } = run;
  const vars = spec.services[service]?.environments?.[env]?.env;
  return {
    ...rest,
    ...(vars && Object.keys(vars).length > 0 ? { env: sortedVars(vars) } : {}),
    ...(files && Object.keys(files).length > 0 ? { files: sortedVars(files) } : {}),
  };
}

/** What a release is apart from its environment's variables and files: equal across a promotion. */
export function promotionIdentity(run: Record<string, unknown>): Record<string, unknown> {
  const { env: _env, files: _files, ...rest } = run;
  return rest;
}

const sortedVars = (vars: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(vars).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
