import { createHash, X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type * as TlsModule from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type * as HttpsModule from 'node:https';
import { MkmError, type ErrorCode } from '../../../shared/errors.std';
import { silentLogger, type Logger } from '../../core/logger.nodejs';

/**
 * A small HTTPS JSON client for the gateway contract (../shared/gateway-api.md).
 *
 * TLS and pinning. Every call opens its own TLS connection first (tls.connect, TLS 1.2 or
 * newer), waits for the handshake to finish, checks the peer and only then hands the socket to
 * node:https to write the request. So no byte of a request (bearer token, password, envelope)
 * is ever written before the peer has been accepted.
 * - Without a pin: ordinary verification (chain to the system CAs, or to `ca` when given, and
 *   the host name), `rejectUnauthorized: true`.
 * - With a pin (`tlsPinSha256`): the gateway may use a self-signed certificate (the sandbox
 *   does) whose CA we cannot know in advance. Node verifies a chain only against a CA list, and
 *   its checkServerIdentity hook is not even called when the chain fails, so the pin cannot be
 *   enforced from there. Chain verification is therefore switched off (`rejectUnauthorized:
 *   false`) for that one socket only, and replaced by a mandatory comparison of SHA-256 over
 *   the peer certificate's DER SubjectPublicKeyInfo with the pin, done on 'secureConnect'
 *   before the socket is given to the HTTP layer. A mismatch (or no certificate) destroys the
 *   socket: GATEWAY_TLS_PIN_MISMATCH. The pin names the exact key, which is a stronger statement
 *   than a chain to any CA plus a name, so nothing is lost. Global TLS settings are never
 *   touched (no NODE_TLS_REJECT_UNAUTHORIZED).
 *
 * Errors. A body `{"error": {"code", "message"}}` becomes our code (UNAUTHORIZED ->
 * GATEWAY_UNAUTHORIZED, RATE_LIMITED -> GATEWAY_RATE_LIMITED, MAC_INVALID and KEY_SET_* keep
 * their names, anything else GATEWAY_ERROR with the gateway's code in details). Refused or timed
 * out connections are GATEWAY_UNREACHABLE; a body that is not JSON, too large or cut short is
 * GATEWAY_BAD_RESPONSE.
 *
 * Retries with exponential backoff only for requests the caller marks idempotent (GET, the
 * idempotent re-registration of a merchant key), and only for failures where the gateway may not
 * have answered: unreachable, a bad or truncated response, a 5xx.
 */

export interface HttpsJsonClientOptions {
  /** https://host:port, no path. */
  baseUrl: string;
  /** Lowercase hex SHA-256 of the gateway's DER SubjectPublicKeyInfo. */
  tlsPinSha256?: string | undefined;
  /** Extra trust anchors (PEM) for verification without a pin. */
  ca?: string | undefined;
  /** TCP connect plus TLS handshake. Default 5 s. */
  connectTimeoutMs?: number;
  /** Whole request, from connect to the last byte of the answer. Default 15 s. */
  timeoutMs?: number;
  /** Largest answer body accepted. Default 1 MiB. */
  maxResponseBytes?: number;
  /** Attempts for idempotent requests (1 = no retry). Default 3. */
  attempts?: number;
  /** First backoff delay; doubled per retry, with jitter. Default 200 ms. */
  backoffMs?: number;
  logger?: Logger;
  /**
   * Asked before every request: an error refuses it before any byte leaves (a key ceremony in
   * progress on this machine refuses every gateway call, CEREMONY_IN_PROGRESS).
   */
  refuse?: () => MkmError | null;
}

export interface JsonRequest {
  method: 'GET' | 'POST';
  /** Path and query, starting with '/'. */
  path: string;
  /** A JSON body. */
  json?: unknown;
  /** A form-encoded body (OAuth). */
  form?: Record<string, string>;
  /** Bearer token for Authorization. */
  bearer?: string;
  /** Safe to send again when the answer was lost (GET, idempotent re-registration). */
  idempotent?: boolean;
}

export interface JsonResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/**
 * A gateway error answer. The parsed body stays on the object (secure refusals carry a
 * next_key_set) but is never part of `toShape()`, so it does not cross a process boundary.
 */
type Tls = typeof TlsModule;
type Https = typeof HttpsModule;
let tlsModules: Promise<{ https: Https; tls: Tls }> | undefined;

/**
 * node:https and node:tls load on the first gateway call: every app builds a client, most CLI
 * commands never call a gateway, and loading them cost each command ~7 ms.
 */
function loadTls(): Promise<{ https: Https; tls: Tls }> {
  tlsModules ??= Promise.all([import('node:https'), import('node:tls')]).then(([https, tls]) => ({
    https,
    tls,
  }));
  return tlsModules;
}

export class GatewayHttpError extends MkmError {
  readonly status: number;
  readonly body: unknown;
  readonly gatewayCode: string | null;

  constructor(
    code: ErrorCode,
    message: string | undefined,
    details: MkmError['details'],
    status: number,
    body: unknown,
    gatewayCode: string | null,
  ) {
    super(code, message, details);
    this.status = status;
    this.body = body;
    this.gatewayCode = gatewayCode;
  }
}

const DIRECT_CODES: Record<string, ErrorCode> = {
  UNAUTHORIZED: 'GATEWAY_UNAUTHORIZED',
  RATE_LIMITED: 'GATEWAY_RATE_LIMITED',
  MAC_INVALID: 'MAC_INVALID',
  KEY_SET_USED: 'KEY_SET_USED',
  KEY_SET_EXPIRED: 'KEY_SET_EXPIRED',
  KEY_SET_UNKNOWN: 'KEY_SET_UNKNOWN',
};

/** Lowercase hex SHA-256 of a certificate's DER SubjectPublicKeyInfo. */
export function spkiPinOfCertificate(certDer: Buffer): string {
  const spki = new X509Certificate(certDer).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}

function oneLine(text: string, max = 200): string {
  return text.replace(/[\r\n\t]+/g, ' ').slice(0, max);
}

/** Maps a parsed non-2xx answer to our vocabulary. */
export function errorFromAnswer(status: number, body: unknown, headers: IncomingHttpHeaders = {}): MkmError {
  const error =
    typeof body === 'object' && body !== null && 'error' in body
      ? (body as { error: unknown }).error
      : undefined;
  const gatewayCode =
    typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
      ? (error as { code: string }).code
      : null;
  const gatewayMessage =
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
      ? oneLine((error as { message: string }).message)
      : null;
  const details: Record<string, string | number> = { status };
  if (gatewayCode !== null) details.gatewayCode = oneLine(gatewayCode, 64);
  if (gatewayMessage !== null) details.gatewayMessage = gatewayMessage;
  const retryAfter = Number(headers['retry-after']);
  if (Number.isFinite(retryAfter) && retryAfter >= 0) details.retryAfterSeconds = retryAfter;
  const code: ErrorCode =
    gatewayCode !== null && Object.hasOwn(DIRECT_CODES, gatewayCode)
      ? DIRECT_CODES[gatewayCode]!
      : 'GATEWAY_ERROR';
  const message =
    code === 'GATEWAY_ERROR'
      ? `The payment gateway answered ${status}${gatewayCode ? ` ${gatewayCode}` : ''}.`
      : undefined;
  return new GatewayHttpError(code, message, details, status, body, gatewayCode);
}

function unreachable(reason: string, extra: Record<string, string | number> = {}): MkmError {
  const sentence =
    reason === 'timeout'
      ? 'The payment gateway did not answer in time.'
      : 'The payment gateway cannot be reached.';
  return new MkmError('GATEWAY_UNREACHABLE', sentence, { reason, ...extra });
}

function badResponse(reason: string, extra: Record<string, string | number> = {}): MkmError {
  return new MkmError('GATEWAY_BAD_RESPONSE', undefined, { reason, ...extra });
}

function fromSocketError(error: unknown): MkmError {
  if (error instanceof MkmError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const text = typeof code === 'string' ? code : 'unknown';
  if (/^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_SSL_|HOSTNAME_|ERR_TLS_CERT)/.test(text)) {
    return new MkmError(
      'GATEWAY_UNREACHABLE',
      "The gateway's TLS certificate could not be verified. Set the gateway's TLS pin in its profile if it uses its own certificate.",
      { reason: 'tls', tls: text },
    );
  }
  return unreachable('network', { network: text });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class HttpsJsonClient {
  private readonly base: URL;
  private readonly pin: string | undefined;
  private readonly logger: Logger;

  constructor(private readonly options: HttpsJsonClientOptions) {
    this.base = new URL(options.baseUrl);
    if (this.base.protocol !== 'https:') {
      throw new MkmError('VALIDATION', 'The gateway address must start with https://.', { field: 'baseUrl' });
    }
    const pin = options.tlsPinSha256?.toLowerCase();
    if (pin !== undefined && !/^[0-9a-f]{64}$/.test(pin)) {
      throw new MkmError('VALIDATION', 'The TLS pin must be 64 hex digits (SHA-256).', {
        field: 'tlsPinSha256',
      });
    }
    this.pin = pin;
    this.logger = options.logger ?? silentLogger;
  }

  /** One JSON call; idempotent ones are retried with backoff on transient failures. */
  async request(req: JsonRequest): Promise<JsonResponse> {
    const refusal = this.options.refuse?.();
    if (refusal) throw refusal;
    const attempts = req.idempotent ? Math.max(1, this.options.attempts ?? 3) : 1;
    const backoff = this.options.backoffMs ?? 200;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(req);
      } catch (error) {
        if (attempt >= attempts || !retryable(error)) throw error;
        const delay = backoff * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5);
        this.logger.warn('gateway call failed; retrying', {
          method: req.method,
          path: req.path,
          attempt,
          code: (error as MkmError).code,
        });
        await sleep(delay);
      }
    }
  }

  /** Opens TLS, checks the peer, and only then resolves with the socket. */
  private connect(deadline: number, tls: Tls): Promise<TLSSocket> {
    const host = this.base.hostname.replace(/^\[|\]$/g, '');
    const port = Number(this.base.port || 443);
    const pin = this.pin;
    const connectTimeout = Math.min(
      this.options.connectTimeoutMs ?? 5000,
      Math.max(1, deadline - Date.now()),
    );
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host,
        port,
        ...(isIP(host) ? {} : { servername: host }),
        minVersion: 'TLSv1.2',
        ALPNProtocols: ['http/1.1'],
        // See the module comment: with a pin, the pin check below replaces chain verification.
        rejectUnauthorized: pin === undefined,
        ...(this.options.ca ? { ca: this.options.ca } : {}),
      });
      let settled = false;
      const fail = (error: MkmError) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(error);
      };
      socket.setTimeout(connectTimeout, () => fail(unreachable('timeout', { phase: 'connect' })));
      const onError = (error: Error) => fail(fromSocketError(error));
      socket.once('error', onError);
      socket.once('secureConnect', () => {
        if (pin !== undefined) {
          const cert = socket.getPeerCertificate(true);
          const served = cert && cert.raw ? spkiPinOfCertificate(cert.raw) : null;
          if (served !== pin) {
            this.logger.warn('gateway TLS pin mismatch', { host, expected: pin, served });
            fail(
              new MkmError('GATEWAY_TLS_PIN_MISMATCH', undefined, {
                expected: pin,
                served: served ?? 'none',
              }),
            );
            return;
          }
        }
        if (settled) return;
        settled = true;
        socket.setTimeout(0);
        socket.removeListener('error', onError);
        // Until the HTTP layer attaches its own listener, an error must not go unheard (it
        // would crash the process); the request's 'error' then reports it.
        socket.on('error', () => undefined);
        resolve(socket);
      });
    });
  }

  private async once(req: JsonRequest): Promise<JsonResponse> {
    const timeoutMs = this.options.timeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    const { https, tls } = await loadTls();
    const socket = await this.connect(deadline, tls);

    let payload: Buffer | undefined;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (req.json !== undefined) {
      payload = Buffer.from(JSON.stringify(req.json), 'utf8');
      headers['content-type'] = 'application/json';
    } else if (req.form !== undefined) {
      payload = Buffer.from(new URLSearchParams(req.form).toString(), 'utf8');
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else if (req.method === 'POST') {
      payload = Buffer.from('{}', 'utf8');
      headers['content-type'] = 'application/json';
    }
    if (payload) headers['content-length'] = String(payload.length);
    if (req.bearer) headers.authorization = `Bearer ${req.bearer}`;
    const limit = this.options.maxResponseBytes ?? 1024 * 1024;

    return new Promise<JsonResponse>((resolve, reject) => {
      let settled = false;
      const finish = (error: MkmError | null, value?: JsonResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          request.destroy();
          socket.destroy();
          reject(error);
        } else {
          resolve(value!);
        }
      };
      const timer = setTimeout(
        () => finish(unreachable('timeout', { phase: 'response', timeoutMs })),
        Math.max(1, deadline - Date.now()),
      );
      const request = https.request(
        {
          method: req.method,
          host: this.base.hostname,
          port: this.base.port || 443,
          path: req.path,
          headers,
          // The already verified socket; no agent, no pooling: one checked connection per call.
          createConnection: () => socket,
        },
        (res) => this.readBody(res, limit, finish),
      );
      request.on('error', (error) => finish(fromSocketError(error)));
      request.end(payload);
    });
  }

  private readBody(
    res: IncomingMessage,
    limit: number,
    finish: (error: MkmError | null, value?: JsonResponse) => void,
  ): void {
    const status = res.statusCode ?? 0;
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      finish(badResponse('too-large', { status, bytes: declared, limit }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        finish(badResponse('too-large', { status, limit }));
        return;
      }
      chunks.push(chunk);
    });
    // An answer cut short: a connection reset reaches the request's 'error' (the network failing,
    // GATEWAY_UNREACHABLE) about the same time as the answer's 'aborted'; the reset is told a turn
    // of the event loop to arrive first, so the same fault is not named by whichever came first.
    const truncated = () => setImmediate(() => finish(badResponse('truncated', { status })));
    res.on('error', truncated);
    res.on('aborted', truncated);
    res.on('close', () => {
      if (!res.complete) {
        truncated();
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text.trim() === '' ? undefined : JSON.parse(text);
      } catch {
        finish(badResponse('not-json', { status }));
        return;
      }
      if (status >= 200 && status < 300) {
        if (body === undefined) finish(badResponse('empty', { status }));
        else finish(null, { status, headers: res.headers, body });
        return;
      }
      finish(errorFromAnswer(status, body, res.headers));
    });
  }
}

function retryable(error: unknown): boolean {
  if (!(error instanceof MkmError)) return false;
  if (error.code === 'GATEWAY_UNREACHABLE') return error.details?.reason !== 'tls';
  if (error.code === 'GATEWAY_BAD_RESPONSE') return true;
  if (error instanceof GatewayHttpError && error.code === 'GATEWAY_ERROR') return error.status >= 500;
  return false;
}
