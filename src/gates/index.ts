/** Release gates: every door (deploy, promote, rollback, admission) asks the same gatekeeper. */
export * from './build-gate.js';
export * from './decision-record.js';
export * from './denial.js';
export * from './evidence.js';
export * from './gatekeeper.js';
export * from './policy-gate.js';
export * from './scan-gate.js';
export * from './signature-gate.js';
export * from './types.js';
