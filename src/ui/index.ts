/** The dashboard: its listener (login, sessions, the API behind a cookie) and its built files. */
export { defaultAssetsDir, loadAssets } from './assets.js';
export { CSP, UiServer, type UiServerDeps } from './ui-server.js';
