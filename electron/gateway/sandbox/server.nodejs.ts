import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createLogger, type Logger } from '../../core/logger.nodejs';
import { systemClock, iso, type Clock } from './clock.nodejs';
import type { SandboxContext } from './context.nodejs';
import { GatewayError } from './errors.nodejs';
import { FaultBoard } from './faults.nodejs';
import { GatewayKeyring, RsaKeyring, SIGNING_KEYRING } from './keyring.nodejs';
import { KeySets } from './keysets.nodejs';
import { lockDataDir } from './lock.nodejs';
import { RateLimiter, type RateLimit } from './ratelimit.nodejs';
import type { FieldPadding } from './rsa.nodejs';
import { StateStore } from './state.nodejs';
import { ensureTlsMaterial } from './tls.nodejs';
import { hashPassword, TokenStore, verifyPassword } from './users.nodejs';
import { registerMerchantKeyRoutes } from './routes/merchant-keys.nodejs';
import { registerOAuthRoutes } from './routes/oauth.nodejs';
import { registerPublicKeyRoutes } from './routes/public-key.nodejs';
import { registerSandboxRoutes } from './routes/sandbox.nodejs';
import { registerSecureRoutes } from './routes/secure.nodejs';
import { registerVerifyRoutes } from './routes/verify.nodejs';

export interface SandboxUser {
  name: string;
  password: string;
}

export interface SandboxOptions {
  /** 0 picks a free port. */
  port: number;
  dataDir: string;
  /** Created or given this password at start. Absent: demo:demo is ensured. */
  users?: SandboxUser[];
  /** Key set lifetime; 15 minutes by default. */
  setTtlSeconds?: number;
  /** Bearer token lifetime; 1 hour by default. */
  tokenTtlSeconds?: number;
  /** On /v1/encryption/verify, per user; a bare number is per minute. 60 a minute by default. */
  verifyRateLimit?: RateLimit | number;
  /** Failed sign-ins per user name; 20 a minute by default. */
  loginRateLimit?: RateLimit;
  /** How long a rotated-out gateway key stays accepted; 24 hours by default. */
  publicKeyGraceSeconds?: number;
  /** How long a rotated-out key-set signing key stays accepted; 24 hours by default. */
  signingKeyGraceSeconds?: number;
  /** What GET /v1/encryption/public_key advertises; OAEP by default. */
  publicKeyPadding?: FieldPadding;
  /** How long the timeout fault holds a response before dropping the socket; 30 s by default. */
  faultTimeoutMs?: number;
  /** Now, in epoch milliseconds or as a Date; lets tests expire sets and tokens without sleeping. */
  clock?: () => number | Date;
  /** Defaults to JSON Lines in `<dataDir>/sandbox.log`, nothing on stderr. */
  logger?: Logger;
}

export interface SandboxHandle {
  url: string;
  port: number;
  /** Lowercase hex SHA-256 of the TLS certificate's SubjectPublicKeyInfo. */
  pin: string;
  /** The self-signed certificate, for clients to use as their only CA. */
  caPem: string;
  dataDir: string;
  /** True when no users were given and demo:demo was ensured. */
  demoUser: boolean;
  /**
   * The SHA-256 fingerprints of its current keys, as its operator reads them out to a merchant
   * confirming a first pin (out of band, not over the API the key came from).
   */
  fingerprints(): { encryption: string; signing: string };
  close(): Promise<void>;
}

const perMinute = (limit: RateLimit | number): RateLimit =>
  typeof limit === 'number' ? { max: limit, windowSeconds: 60 } : limit;

export const DEMO_USER: SandboxUser = { name: 'demo', password: 'demo' };
const USER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

async function ensureUsers(store: StateStore, users: SandboxUser[], clock: Clock): Promise<void> {
  let changed = false;
  for (const u of users) {
    if (!USER_NAME.test(u.name)) throw new Error(`user name ${JSON.stringify(u.name)} is not allowed`);
    if (u.password.length === 0) throw new Error(`user ${u.name} needs a password`);
    const existing = Object.hasOwn(store.state.users, u.name) ? store.state.users[u.name] : undefined;
    if (existing && (await verifyPassword(u.password, existing.password_hash))) continue;
    store.state.users[u.name] = {
      name: u.name,
      password_hash: await hashPassword(u.password),
      created_at: existing?.created_at ?? iso(clock()),
    };
    changed = true;
  }
  if (changed) store.save();
}

function buildApp(ctx: SandboxContext, tls: { keyPem: string; certPem: string }): FastifyInstance {
  const app = Fastify({
    https: { key: tls.keyPem, cert: tls.certPem, minVersion: 'TLSv1.2' },
    logger: false,
    bodyLimit: 64 * 1024,
    // close() must not wait for keep-alive sockets or for a held timeout-fault response.
    forceCloseConnections: true,
    return503OnClosing: true,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    // An empty body is `{}`: POST /v1/encryption/key_sets and the /sandbox/ calls need no body.
    if ((text as string).trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text as string));
    } catch {
      done(new GatewayError('VALIDATION', 'The body is not valid JSON.'), undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, text, done) =>
    done(null, new URLSearchParams(text as string)),
  );

  app.addHook('onSend', async (_request, reply, payload) => {
    // Tokens, wrapped keys and verdicts about card data: nothing here belongs in a cache.
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });

  app.setErrorHandler((err: FastifyError | GatewayError, request, reply) => {
    if (err instanceof GatewayError) {
      if (err.headers) reply.headers(err.headers);
      return reply.code(err.status).send(err.body());
    }
    const status = err.statusCode ?? 500;
    if (status === 413)
      return reply.code(413).send(new GatewayError('VALIDATION', 'The body is too large.').body());
    if (status === 415) {
      return reply
        .code(415)
        .send(new GatewayError('VALIDATION', 'The content type is not supported.').body());
    }
    if (status >= 400 && status < 500) {
      return reply.code(400).send(new GatewayError('VALIDATION', 'The request is not valid.').body());
    }
    // The logger redacts; the client only ever sees the generic sentence.
    ctx.log.error('unhandled error', { route: request.routeOptions.url, error: err });
    return reply
      .code(500)
      .send(new GatewayError('INTERNAL', 'Something went wrong inside the gateway.').body());
  });
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send(new GatewayError('NOT_FOUND', 'There is no such endpoint.').body()),
  );

  app.addHook('onResponse', async (request, reply) => {
    ctx.log.debug('request', {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    });
  });

  registerOAuthRoutes(app, ctx);
  registerPublicKeyRoutes(app, ctx);
  registerMerchantKeyRoutes(app, ctx);
  registerSecureRoutes(app, ctx);
  registerVerifyRoutes(app, ctx);
  registerSandboxRoutes(app, ctx);
  return app;
}

/** Starts the sandbox gateway on 127.0.0.1 with its state under `dataDir`. */
export async function startSandbox(options: SandboxOptions): Promise<SandboxHandle> {
  const dataDir = resolve(options.dataDir);
  const given = options.clock;
  const clock: Clock = given
    ? () => {
        const now = given();
        return typeof now === 'number' ? now : now.getTime();
      }
    : systemClock;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Locked before the state is read, so a second sandbox never even reads a file in flux.
  const unlock = lockDataDir(dataDir);
  try {
    const store = StateStore.open(dataDir);
    const log =
      options.logger ??
      createLogger({ name: 'sandbox', file: join(dataDir, 'sandbox.log'), stderrLevel: 'silent' });
    const tls = await ensureTlsMaterial(dataDir);
    const keyring = new GatewayKeyring(
      store,
      clock,
      options.publicKeyPadding ?? 'RSAES-OAEP-SHA256',
      options.publicKeyGraceSeconds ?? 24 * 3600,
    );
    await keyring.ensureCurrent();
    const signingKeyring = new RsaKeyring(
      store,
      clock,
      SIGNING_KEYRING,
      options.signingKeyGraceSeconds ?? 24 * 3600,
    );
    await signingKeyring.ensureCurrent();
    const demoUser = options.users === undefined || options.users.length === 0;
    await ensureUsers(store, demoUser ? [DEMO_USER] : options.users!, clock);

    const ctx: SandboxContext = {
      store,
      clock,
      keyring,
      signingKeyring,
      keySets: new KeySets(store, clock, options.setTtlSeconds ?? 15 * 60, () => {
        const current = signingKeyring.accepted(undefined);
        if (!current) throw new Error('signing keyring not initialised');
        return current;
      }),
      tokens: new TokenStore(clock, options.tokenTtlSeconds ?? 3600),
      faults: new FaultBoard(),
      verifyLimiter: new RateLimiter(perMinute(options.verifyRateLimit ?? 60), clock),
      loginLimiter: new RateLimiter(options.loginRateLimit ?? { max: 20, windowSeconds: 60 }, clock),
      log,
      faultTimeoutMs: options.faultTimeoutMs ?? 30_000,
      held: new Set(),
    };
    const app = buildApp(ctx, tls);
    await app.listen({ port: options.port, host: '127.0.0.1' });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    log.info('listening', { port });

    let closed: Promise<void> | undefined;
    return {
      url: `https://127.0.0.1:${port}`,
      port,
      pin: tls.pin,
      caPem: tls.certPem,
      dataDir,
      demoUser,
      fingerprints: () => ({
        encryption: keyring.view().spki_sha256,
        signing: signingKeyring.view().spki_sha256,
      }),
      close: () => {
        closed ??= (async () => {
          for (const h of [...ctx.held]) h.release();
          await app.close();
          unlock();
        })();
        return closed;
      },
    };
  } catch (err) {
    unlock();
    throw err;
  }
}
