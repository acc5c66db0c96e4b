/** Tiny shared helpers: errors, digests, canonical JSON, durations, ids, text similarity. */
export * from './canonical-json.js';
export * from './digest.js';
export * from './disk-watch.js';
export * from './duration.js';
export * from './errors.js';
export * from './ids.js';
export * from './log-lines.js';
export * from './similar.js';
