import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { iso } from '../clock.nodejs';
import { faultedCall, requireBearer, userOf, type SandboxContext } from '../context.nodejs';
import { openEnvelope, sealEnvelope } from '../envelope.nodejs';
import { GatewayError } from '../errors.nodejs';
import type { FaultKind } from '../faults.nodejs';
import { describeField, decodeBase64Strict, type FieldKind } from '../fields.nodejs';
import type { IssuedKeySet } from '../state.nodejs';
import { base64String, parseBody, saltString } from '../validate.nodejs';
import { nextKeySet } from './merchant-keys.nodejs';

const EnvelopeSchema = z.object({
  set_id: z.string().min(1).max(128),
  ciphertext: base64String,
  mac: base64String,
});

const PAYLOAD_FIELDS: Record<string, FieldKind> = {
  card_number: 'card',
  expiration: 'expiration',
  cvv: 'cvv',
  account_number: 'account',
  routing_number: 'routing',
};

const VerifyPayloadSchema = z.object({
  salt: saltString,
  fields: z
    .object({
      card_number: z.string().max(64).optional(),
      expiration: z.string().max(16).optional(),
      cvv: z.string().max(8).optional(),
      account_number: z.string().max(64).optional(),
      routing_number: z.string().max(32).optional(),
    })
    .strict(),
});

type Operation = (ctx: SandboxContext, input: unknown) => Record<string, unknown>;

const OPERATIONS: Record<string, Operation> = {
  ping: (ctx) => ({ pong: true, server_time: iso(ctx.clock()) }),
  verify_payload: (_ctx, input) => {
    const body = parseBody(VerifyPayloadSchema, input);
    const salt = decodeBase64Strict(body.salt)!;
    const fields: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(body.fields)) {
      if (value === undefined) continue;
      fields[name] = { received: true, ...describeField(PAYLOAD_FIELDS[name]!, value, salt) };
    }
    return { fields };
  },
};

export function registerSecureRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  app.post<{ Params: { operation: string } }>(
    '/v1/secure/:operation',
    { preHandler: requireBearer(ctx) },
    (request, reply) => {
      const user = userOf(request);
      const operation = Object.hasOwn(OPERATIONS, request.params.operation)
        ? OPERATIONS[request.params.operation]!
        : undefined;
      // Checked before the set is looked at: a typo in the path must not burn a set.
      if (!operation) throw new GatewayError('NOT_FOUND', 'There is no such secure operation.');
      const envelope = parseBody(EnvelopeSchema, request.body);
      return faultedCall(ctx, request, reply, { issuesSet: true, macs: true }, (fault) =>
        handle(ctx, user, operation, envelope, fault),
      );
    },
  );
}

function handle(
  ctx: SandboxContext,
  user: string,
  operation: Operation,
  envelope: z.infer<typeof EnvelopeSchema>,
  fault: FaultKind,
) {
  const set = ctx.keySets.lookup(user, envelope.set_id);
  // Every refusal hands over a fresh set so the client recovers in one round trip. With no
  // active merchant key there is nothing to wrap one under, and the refusal goes without.
  const refuse = (
    code: 'KEY_SET_UNKNOWN' | 'KEY_SET_USED' | 'KEY_SET_EXPIRED' | 'MAC_INVALID' | 'VALIDATION',
    message: string,
  ) => {
    let next: IssuedKeySet | undefined;
    if (ctx.keySets.wrappingKey(user)) next = nextKeySet(ctx, user, fault);
    // A refusal carries no MAC, so a bad_mac fault waits for a call that does.
    if (fault === 'bad_mac') ctx.faults.arm(user, 'bad_mac');
    ctx.store.save();
    ctx.log.info('secure call refused', { user, set_id: envelope.set_id, code });
    return new GatewayError(code, message, next ? { extra: { next_key_set: next } } : {});
  };

  if (!set) throw refuse('KEY_SET_UNKNOWN', 'The gateway does not know this key set.');
  if (set.used_at_ms !== null) throw refuse('KEY_SET_USED', 'This key set was already used.');
  if (ctx.keySets.isExpired(set) || set.enc_key === null || set.mac_key === null) {
    throw refuse('KEY_SET_EXPIRED', 'This key set has expired.');
  }
  const keys = {
    setId: set.set_id,
    encKey: Buffer.from(set.enc_key, 'base64'),
    macKey: Buffer.from(set.mac_key, 'base64'),
  };
  const plaintext = openEnvelope(
    keys,
    Buffer.from(set.iv, 'base64'),
    Buffer.from(envelope.ciphertext, 'base64'),
    Buffer.from(envelope.mac, 'base64'),
  );
  // A failed check burns the set too: a set someone has tried to forge under is not used again,
  // and no set gives an attacker more than one guess.
  ctx.keySets.consume(set);
  if (plaintext === null) throw refuse('MAC_INVALID', 'The message could not be authenticated.');

  let input: unknown;
  try {
    input = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch {
    throw refuse('VALIDATION', 'The decrypted request is not UTF-8 JSON.');
  } finally {
    // The request may hold a card number; the buffer at least does not outlive the call.
    plaintext.fill(0);
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw refuse('VALIDATION', 'The decrypted request must be a JSON object.');
  }
  let result: Record<string, unknown>;
  try {
    result = operation(ctx, input);
  } catch (err) {
    if (err instanceof GatewayError) throw refuse('VALIDATION', err.message);
    throw err;
  }

  const sealed = sealEnvelope(keys, Buffer.from(JSON.stringify(result), 'utf8'));
  if (fault === 'bad_mac') sealed.mac[0]! ^= 0x01;
  const next = nextKeySet(ctx, user, fault);
  ctx.store.save();
  ctx.log.info('secure call', { user, set_id: set.set_id, next_set_id: next.set_id });
  keys.encKey.fill(0);
  keys.macKey.fill(0);
  return {
    status: 200,
    body: {
      set_id: set.set_id,
      iv: sealed.iv.toString('base64'),
      ciphertext: sealed.ciphertext.toString('base64'),
      mac: sealed.mac.toString('base64'),
      next_key_set: next,
    },
  };
}
