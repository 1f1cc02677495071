/**
 * The wire error vocabulary of ../shared/gateway-api.md. It is the contract's, not the app's
 * (MkmError codes are for the app's own processes), so the sandbox keeps it separate.
 */
export type GatewayErrorCode =
  | 'UNAUTHORIZED'
  | 'VALIDATION'
  | 'NOT_FOUND'
  | 'KEY_ID_CONFLICT'
  | 'KEY_SET_UNKNOWN'
  | 'KEY_SET_USED'
  | 'KEY_SET_EXPIRED'
  | 'MAC_INVALID'
  | 'DECRYPT_FAILED'
  | 'RATE_LIMITED'
  | 'INTERNAL';

const STATUS: Record<GatewayErrorCode, number> = {
  UNAUTHORIZED: 401,
  VALIDATION: 400,
  NOT_FOUND: 404,
  KEY_ID_CONFLICT: 409,
  KEY_SET_UNKNOWN: 404,
  KEY_SET_USED: 409,
  KEY_SET_EXPIRED: 410,
  MAC_INVALID: 400,
  DECRYPT_FAILED: 400,
  RATE_LIMITED: 429,
  INTERNAL: 500,
};

/**
 * Thrown by handlers; the server's error handler turns it into the contract's body. `extra`
 * rides next to `error` (a `next_key_set` for the secure endpoint's refusals). Messages are
 * written here, never copied from a library error, so they cannot quote a secret.
 */
export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  readonly status: number;
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: GatewayErrorCode,
    message: string,
    options: { status?: number; extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? STATUS[code];
    this.extra = options.extra;
    this.headers = options.headers;
  }

  body(): Record<string, unknown> {
    return { error: { code: this.code, message: this.message }, ...this.extra };
  }
}
