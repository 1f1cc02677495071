/**
 * The one Content-Security-Policy: the renderer's meta tag, browser mode's header and Electron's
 * response header say the same. No inline or eval'd script, no remote anything.
 */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
