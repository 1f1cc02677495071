import type { FastifyInstance } from 'fastify';
import { faultedCall, requireBearer, type SandboxContext } from '../context.nodejs';

export function registerPublicKeyRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  app.get('/v1/encryption/public_key', { preHandler: requireBearer(ctx) }, (request, reply) =>
    faultedCall(ctx, request, reply, { issuesSet: false, macs: false }, () => ({
      status: 200,
      body: ctx.keyring.view(),
    })),
  );

  // Contract 1.1: the key that signs every next_key_set (never the one that decrypts card data).
  app.get('/v1/encryption/signing_key', { preHandler: requireBearer(ctx) }, (request, reply) =>
    faultedCall(ctx, request, reply, { issuesSet: false, macs: false }, () => ({
      status: 200,
      body: ctx.signingKeyring.view(),
    })),
  );
}
