/** The shapes the control plane sends (see src/server/status.ts and event-hub.ts). */

export interface Verdict {
  verdict: 'pass' | 'fail' | 'inconclusive';
  rule: string;
  canary: { requests: number; errors: number; errorRate: number; p99Ms: number };
  stable?: { requests: number; errors: number; errorRate: number; p99Ms: number };
  windowMs: number;
  at: number;
}

export interface Rollout {
  id: string;
  strategy: string;
  from?: string;
  to: string;
  phase: string;
  stage: string;
  step: number;
  steps: number;
  stepList: string[];
  weight: number;
  reason?: string;
  lastVerdict?: Verdict;
  createdAt: string;
  finishedAt?: string;
  durationMs?: number;
}

export interface ServiceStatus {
  env: string;
  service: string;
  release?: string;
  previousRelease?: string;
  weights: Array<{ release: string; weight: number }>;
  instances: Array<{ id: string; release: string; state: string }>;
  rollout?: Rollout;
}

export interface DriftStatus {
  env: string;
  mode: string;
  checks: number;
  lastCheck?: { at: string; instances: number; notInSync: number };
  quarantined: Array<{ id: string; service: string; reason?: string }>;
}

export interface State {
  environments: Array<{ name: string; after?: string }>;
  services: ServiceStatus[];
  drift: DriftStatus[];
  auditSize: number;
}

export interface Sample {
  t: number;
  step: number;
  phase: string;
  releases: Record<string, { weight: number; rps: number; errorRate: number; p99Ms: number }>;
}

export interface Session {
  user: string;
  role: 'viewer' | 'operator';
  csrf: string;
  expiresAt: string;
}

export interface Live {
  state: State | undefined;
  series: Record<string, Sample[]>;
  connected: boolean;
}
