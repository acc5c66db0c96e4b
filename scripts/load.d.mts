export interface Sample {
  at: number;
  ms: number;
  status: number;
  version?: string;
}

export interface LoadSummary {
  requests: number;
  failures: number;
  failuresByVersion: Record<string, number>;
  p99Ms: number;
  versions: Record<string, number>;
}

export class Load {
  constructor(url: string, options?: { concurrency?: number; timeoutMs?: number });
  samples: Sample[];
  start(maxMs?: number): this;
  stop(): Promise<void>;
  summary(from?: number, to?: number): LoadSummary;
  firstServedBy(version: string, from: number): Sample | undefined;
}
