/** Workload identity: the workspace's SPIFFE CA, X.509 SVIDs for instances, and their verification. */
export { type CallDecision, type CallerRecord, checkCall } from './call-check.js';
export { type IdentityPlan, identityPlan, renderIdentityPlan } from './call-graph.js';
export {
  DEFAULT_HOP_PORT,
  DEFAULT_SVID_TTL_MS,
  GATEWAY_SEGMENT,
  gatewaySpiffeId,
  type IdentityConfig,
  identityConfig,
  parseSpiffeId,
  spiffeIdOf,
} from './spiffe-id.js';
export {
  issueGatewayCertificate,
  issueHopCertificate,
  issueSvid,
  type Svid,
  type SvidSubject,
} from './svid.js';
export { type SvidVerdict, type VerifiedSvid, verifySvid } from './verify-svid.js';
export {
  CA_CERT_FILE,
  CA_KEY_FILE,
  createWorkloadCa,
  loadWorkloadCa,
  type WorkloadCa,
} from './workload-ca.js';
