import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../core/logger.nodejs';
import type { Clock } from './clock.nodejs';
import { GatewayError } from './errors.nodejs';
import type { FaultBoard, FaultKind, FaultSite } from './faults.nodejs';
import type { GatewayKeyring, RsaKeyring } from './keyring.nodejs';
import type { KeySets } from './keysets.nodejs';
import type { RateLimiter } from './ratelimit.nodejs';
import type { StateStore } from './state.nodejs';
import type { TokenStore } from './users.nodejs';

/** What every route needs; one per running sandbox, so two sandboxes in a process never share. */
export interface SandboxContext {
  store: StateStore;
  clock: Clock;
  keyring: GatewayKeyring;
  /** Contract 1.1: the key that signs key sets, and nothing else. */
  signingKeyring: RsaKeyring;
  keySets: KeySets;
  tokens: TokenStore;
  faults: FaultBoard;
  verifyLimiter: RateLimiter;
  loginLimiter: RateLimiter;
  log: Logger;
  faultTimeoutMs: number;
  /** Held sockets of the timeout fault, released on close. */
  held: Set<{ release(): void }>;
}

// A WeakMap instead of decorating FastifyRequest: no global type augmentation that other
// fastify users in the app would inherit.
const users = new WeakMap<FastifyRequest, string>();

export function userOf(request: FastifyRequest): string {
  const user = users.get(request);
  if (user === undefined) throw new GatewayError('UNAUTHORIZED', 'A bearer token is required.');
  return user;
}

export function requireBearer(ctx: SandboxContext) {
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization ?? '';
    // The auth scheme is case-insensitive (RFC 9110 11.1); the token is not.
    const match = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
    const user = match ? ctx.tokens.resolve(match[1]!) : undefined;
    if (user === undefined) {
      throw new GatewayError('UNAUTHORIZED', 'The bearer token is missing, unknown or expired.', {
        headers: { 'www-authenticate': 'Bearer realm="sandbox", error="invalid_token"' },
      });
    }
    users.set(request, user);
  };
}

export interface CallResult {
  status: number;
  body: unknown;
}

/**
 * Runs a /v1/ call under the fault board. `500` strikes before the work, so nothing changed;
 * `timeout` and `truncated` strike after it, so the work is done and saved but its answer is
 * lost, which is the case a client must recover from by retrying idempotently or asking for
 * a fresh set. The payload faults (bad_kcv, bad_mac, replay_set, unsigned_set, forged_set) are
 * handed to `work`.
 */
export async function faultedCall(
  ctx: SandboxContext,
  request: FastifyRequest,
  reply: FastifyReply,
  site: FaultSite,
  work: (fault: FaultKind) => CallResult | Promise<CallResult>,
): Promise<FastifyReply> {
  const user = userOf(request);
  const fault = ctx.faults.take(user, site);
  if (fault !== 'none') ctx.log.info('fault injected', { user, fault, route: request.routeOptions.url });
  if (fault === '500')
    throw new GatewayError('INTERNAL', 'The sandbox was told to fail this call (fault 500).');
  let result: CallResult;
  try {
    result = await work(fault);
  } catch (err) {
    if (!(err instanceof GatewayError) || (fault !== 'timeout' && fault !== 'truncated')) throw err;
    result = { status: err.status, body: err.body() };
  }
  if (fault === 'timeout') return holdForever(ctx, reply);
  if (fault === 'truncated') return sendHalf(reply, result);
  return reply.code(result.status).send(result.body);
}

function holdForever(ctx: SandboxContext, reply: FastifyReply): FastifyReply {
  reply.hijack();
  const socket = reply.raw.socket;
  const entry = {
    release: () => {
      clearTimeout(timer);
      ctx.held.delete(entry);
      socket?.destroy();
    },
  };
  // Longer than any sane client timeout, bounded so an abandoned socket does not live forever.
  const timer = setTimeout(() => entry.release(), ctx.faultTimeoutMs);
  ctx.held.add(entry);
  socket?.once('close', () => entry.release());
  return reply;
}

function sendHalf(reply: FastifyReply, result: CallResult): FastifyReply {
  reply.hijack();
  const text = JSON.stringify(result.body);
  const raw = reply.raw;
  raw.writeHead(result.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    connection: 'close',
  });
  // The promised length is the whole body; the client sees half of it, then the end.
  raw.write(text.slice(0, Math.floor(text.length / 2)), () => {
    const socket = raw.socket;
    socket?.end();
    setTimeout(() => socket?.destroy(), 1000).unref();
  });
  return reply;
}
