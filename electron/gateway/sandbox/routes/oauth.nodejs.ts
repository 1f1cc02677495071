import type { FastifyInstance } from 'fastify';
import type { SandboxContext } from '../context.nodejs';
import { GatewayError } from '../errors.nodejs';
import { verifyPassword } from '../users.nodejs';

export function registerOAuthRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  app.post('/oauth/token', async (request, reply) => {
    if (!request.headers['content-type']?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      throw new GatewayError('VALIDATION', 'The token request must be form-encoded.', { status: 415 });
    }
    // An empty body reaches here unparsed.
    const form = request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
    const grant = form.get('grant_type');
    const username = form.get('username');
    const password = form.get('password');
    if (grant !== 'password') throw new GatewayError('VALIDATION', 'grant_type must be "password".');
    if (!username || password === null)
      throw new GatewayError('VALIDATION', 'username and password are required.');
    // Failed attempts per user name: guessing one account's password is throttled without
    // slowing down other accounts or clients that sign in correctly.
    const wait = ctx.loginLimiter.check(username);
    if (wait > 0) {
      throw new GatewayError('RATE_LIMITED', 'Too many sign-in attempts; try again later.', {
        headers: { 'retry-after': String(wait) },
      });
    }
    const user = Object.hasOwn(ctx.store.state.users, username) ? ctx.store.state.users[username] : undefined;
    const ok = await verifyPassword(password, user?.password_hash);
    if (!ok || !user) {
      ctx.loginLimiter.record(username);
      // An unknown name is not logged: it is often a password typed into the wrong field.
      ctx.log.warn('sign-in refused', user ? { user: user.name } : { known_user: false });
      throw new GatewayError('UNAUTHORIZED', 'The user name or password is wrong.');
    }
    const { token, expiresIn } = ctx.tokens.issue(user.name);
    ctx.log.info('signed in', { user: user.name });
    return reply.code(200).send({ access_token: token, token_type: 'Bearer', expires_in: expiresIn });
  });
}
