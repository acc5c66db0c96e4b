/** Who may call the API and the dashboard: roles, per-user tokens, login sessions, throttling of failed logins and API authentications. */
export {
  API_AUTH_FAILURES_PER_WINDOW,
  API_AUTH_WINDOW_MS,
  AuthFailures,
  type AuthFailureTally,
} from './auth-failures.js';
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
