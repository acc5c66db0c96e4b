/**
 * The shapes the control plane sends: the server's own declarations (src/server/views.ts), so a
 * change there fails the dashboard's type check instead of its users.
 */
import type { RolloutSample, ServiceStatus } from '../../src/server/views.js';

export type {
  InstanceView,
  ReleaseView,
  RolloutSample as Sample,
  RolloutView as Rollout,
  ServiceStatus,
} from '../../src/server/views.js';

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

export interface Session {
  user: string;
  role: 'viewer' | 'operator';
  csrf: string;
  expiresAt: string;
}

export interface Live {
  state: State | undefined;
  series: Record<string, RolloutSample[]>;
  connected: boolean;
}
