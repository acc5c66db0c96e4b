/** Release policies as code: CEL validations over one documented input (docs/policy.md). */
export * from './compile.js';
export * from './cost.js';
export * from './evaluate.js';
export * from './input.js';
export * from './policy-worker.js';
export * from './types.js';
