/**
 * What the API sends about services, rollouts, instances and releases: the wire shapes the CLI
 * and the dashboard read. Types only, with no imports but other type-only files, so the browser
 * code type-checks against the very same declarations.
 */
import type { AnalysisResult } from '../rollout/types.js';

export interface ServiceStatus {
  env: string;
  service: string;
  release?: string;
  previousRelease?: string;
  weights: Array<{ release: string; weight: number }>;
  instances: Array<{ id: string; release: string; state: string; endpoint?: string }>;
  rollout?: RolloutView;
}

export interface RolloutView {
  id: string;
  strategy: string;
  from?: string;
  to: string;
  phase: string;
  stage: string;
  step: number;
  steps: number;
  /** Each step in words: "weight 20%", "pause 10s", "analysis". */
  stepList: string[];
  weight: number;
  reason?: string;
  lastVerdict?: AnalysisResult;
  rollbackSwitchMs?: number;
  createdAt: string;
  finishedAt?: string;
  /** From creation to the end of the switch (success) or of the rollback. */
  durationMs?: number;
}

/** An instance as the dashboard lists it: live ones, and the ones replaced lately with why. */
export interface InstanceView {
  id: string;
  env: string;
  service: string;
  release: string;
  state: string;
  since: string;
  updatedAt: string;
  reason?: string;
  /** Instances of the same release in this environment that failed (crashed and were replaced). */
  restarts: number;
  /** Forensics folders kept for it (under .cairn/forensics). */
  forensics: string[];
  /** Its current X.509 SVID, when workload identity is on (docs/identity.md). */
  svid?: SvidView;
}

/** An instance's SVID as the dashboard shows it. */
export interface SvidView {
  spiffeId: string;
  serial: string;
  notAfter: string;
}

/** A release as the history page shows it: what it runs, where it came from, what vouched for it. */
export interface ReleaseView {
  id: string;
  imageDigest: string;
  configDigest: string;
  createdAt: string;
  sourceCommit?: string;
  sourceDigest?: string;
  signatures: string[];
  /** Key ids that signed the image (the history endpoint fills it in). */
  signers?: string[];
  provenance: boolean;
  /** Gate decisions recorded for it, e.g. `gate-decision deploy dev`. */
  gates: string[];
}

/** One second of a rollout: traffic weight and gateway metrics per release. */
export interface RolloutSample {
  t: number;
  step: number;
  phase: string;
  releases: Record<string, { weight: number; rps: number; errorRate: number; p99Ms: number }>;
}
