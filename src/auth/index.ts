/** Who may call the API and the dashboard: roles, per-user tokens, login sessions, login throttling. */
export { LoginLimiter } from './login-limiter.js';
export { allows, isRole, type Principal, ROLES, type Role, WORKSPACE_PRINCIPAL } from './principal.js';
export {
  csrfMatches,
  DEFAULT_SESSION_LIMITS,
  type Session,
  type SessionLimits,
  SessionStore,
} from './sessions.js';
export { type TokenInfo, TokenStore, tokenHash } from './tokens.js';
