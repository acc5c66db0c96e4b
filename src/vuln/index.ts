/** Vulnerability scanning of SBOMs against a local OSV database (docs/scan.md). */
export * from './cvss.js';
export * from './cyclonedx.js';
export * from './db.js';
export * from './osv.js';
export * from './scan.js';
export * from './source.js';
export * from './versions.js';
