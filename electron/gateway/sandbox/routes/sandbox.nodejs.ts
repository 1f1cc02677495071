import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { requireBearer, userOf, type SandboxContext } from '../context.nodejs';
import { FAULT_KINDS } from '../faults.nodejs';
import { parseBody } from '../validate.nodejs';

const FaultSchema = z.object({ next: z.enum(FAULT_KINDS) });

export function registerSandboxRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  const auth = { preHandler: requireBearer(ctx) };

  app.post('/sandbox/rotate_public_key', auth, async (request, reply) => {
    const view = await ctx.keyring.rotate();
    ctx.log.info('gateway key rotated', { user: userOf(request), key_id: view.key_id });
    return reply.code(200).send(view);
  });

  app.post('/sandbox/rotate_signing_key', auth, async (request, reply) => {
    const view = await ctx.signingKeyring.rotate();
    ctx.log.info('signing key rotated', { user: userOf(request), key_id: view.key_id });
    return reply.code(200).send(view);
  });

  app.post('/sandbox/faults', auth, async (request, reply) => {
    const user = userOf(request);
    const { next } = parseBody(FaultSchema, request.body);
    if (next === 'forged_set') await ctx.keySets.prepareForgery();
    ctx.faults.arm(user, next);
    ctx.log.info('fault armed', { user, next });
    return reply.code(200).send({ next });
  });
}
