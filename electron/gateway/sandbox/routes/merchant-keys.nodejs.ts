import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { iso } from '../clock.nodejs';
import { faultedCall, requireBearer, userOf, type SandboxContext } from '../context.nodejs';
import { GatewayError } from '../errors.nodejs';
import type { FaultKind } from '../faults.nodejs';
import type { IssueFault } from '../keysets.nodejs';
import { WRAPPINGS, checkMerchantPublicKey, spkiSha256 } from '../rsa.nodejs';
import type { IssuedKeySet, MerchantKeyRecord } from '../state.nodejs';
import { KEY_ID, parseBody } from '../validate.nodejs';

const RegisterSchema = z.object({
  key_id: z.string().regex(KEY_ID),
  public_key_pem: z.string().max(16_384),
  wrapping: z.enum(WRAPPINGS as [string, ...string[]]),
});

// The contract sends `{}`; extra members are ignored rather than refused, for forward compatibility.
const KeySetRequestSchema = z.object({});

/**
 * Issues the next_key_set under the payload fault, re-arming replay_set when the user has no
 * used set to replay yet (the fault then waits for a call where it can happen).
 */
export function nextKeySet(ctx: SandboxContext, user: string, fault: FaultKind): IssuedKeySet {
  const issueFault: IssueFault =
    fault === 'bad_kcv' || fault === 'replay_set' || fault === 'unsigned_set' || fault === 'forged_set'
      ? fault
      : 'none';
  const { body, replayed } = ctx.keySets.issue(user, issueFault);
  if (issueFault === 'replay_set' && !replayed) ctx.faults.arm(user, 'replay_set');
  return body;
}

function registration(k: MerchantKeyRecord) {
  return {
    key_id: k.key_id,
    spki_sha256: k.spki_sha256,
    wrapping: k.wrapping,
    status: k.status,
    registered_at: k.registered_at,
  };
}

export function registerMerchantKeyRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  const auth = { preHandler: requireBearer(ctx) };
  const state = ctx.store.state;

  app.post('/v1/encryption/merchant_keys', auth, (request, reply) => {
    const user = userOf(request);
    const body = parseBody(RegisterSchema, request.body);
    const check = checkMerchantPublicKey(body.public_key_pem);
    if (!check.ok) throw new GatewayError('VALIDATION', check.reason + '.');
    const fingerprint = spkiSha256(check.key);
    const wrapping = body.wrapping as MerchantKeyRecord['wrapping'];
    return faultedCall(ctx, request, reply, { issuesSet: true, macs: false }, (fault) => {
      const mine = state.merchant_keys.filter((k) => k.owner === user);
      const existing = mine.find((k) => k.key_id === body.key_id);
      if (existing) {
        // Idempotent only for the exact same registration; anything else under this id is a
        // different key, and silently replacing it would strand sets wrapped under the old one.
        if (existing.spki_sha256 !== fingerprint || existing.wrapping !== wrapping) {
          throw new GatewayError(
            'KEY_ID_CONFLICT',
            'This key_id is registered with another key or wrapping.',
          );
        }
        if (existing.status !== 'active') {
          throw new GatewayError('KEY_ID_CONFLICT', 'This key_id was retired; key ids are not reused.');
        }
        const next = nextKeySet(ctx, user, fault);
        ctx.store.save();
        ctx.log.info('merchant key re-registered', { user, key_id: existing.key_id });
        return { status: 200, body: { ...registration(existing), next_key_set: next } };
      }
      const twin = mine.find((k) => k.spki_sha256 === fingerprint);
      if (twin) {
        // One key, one id: otherwise retiring one id would leave the same key active under another.
        throw new GatewayError('KEY_ID_CONFLICT', `This public key is already registered as ${twin.key_id}.`);
      }
      const record: MerchantKeyRecord = {
        owner: user,
        key_id: body.key_id,
        public_key_pem: check.key.export({ type: 'spki', format: 'pem' }) as string,
        spki_sha256: fingerprint,
        wrapping,
        status: 'active',
        registered_at: iso(ctx.clock()),
        retired_at: null,
        seq: ctx.store.nextSeq(),
      };
      state.merchant_keys.push(record);
      let next: IssuedKeySet;
      try {
        next = nextKeySet(ctx, user, fault);
      } catch (err) {
        state.merchant_keys.pop();
        throw err;
      }
      ctx.store.save();
      ctx.log.info('merchant key registered', { user, key_id: record.key_id, wrapping, bits: check.bits });
      return { status: 201, body: { ...registration(record), next_key_set: next } };
    });
  });

  app.get('/v1/encryption/merchant_keys', auth, (request, reply) => {
    const user = userOf(request);
    return faultedCall(ctx, request, reply, { issuesSet: false, macs: false }, () => ({
      status: 200,
      body: {
        keys: state.merchant_keys
          .filter((k) => k.owner === user)
          .sort((a, b) => a.seq - b.seq)
          .map((k) => ({ ...registration(k), retired_at: k.retired_at })),
      },
    }));
  });

  app.post<{ Params: { key_id: string } }>(
    '/v1/encryption/merchant_keys/:key_id/retire',
    auth,
    (request, reply) => {
      const user = userOf(request);
      return faultedCall(ctx, request, reply, { issuesSet: false, macs: false }, () => {
        const key = state.merchant_keys.find((k) => k.owner === user && k.key_id === request.params.key_id);
        if (!key) throw new GatewayError('NOT_FOUND', 'No merchant key has this key_id.');
        // Retiring twice answers the first retirement: the call is safe to retry.
        if (key.status !== 'retired') {
          key.status = 'retired';
          key.retired_at = iso(ctx.clock());
          ctx.store.save();
          ctx.log.info('merchant key retired', { user, key_id: key.key_id });
        }
        return { status: 200, body: { key_id: key.key_id, status: key.status, retired_at: key.retired_at } };
      });
    },
  );

  app.post('/v1/encryption/key_sets', auth, (request, reply) => {
    const user = userOf(request);
    parseBody(KeySetRequestSchema, request.body);
    return faultedCall(ctx, request, reply, { issuesSet: true, macs: false }, (fault) => {
      const next = nextKeySet(ctx, user, fault);
      ctx.store.save();
      return { status: 201, body: { next_key_set: next } };
    });
  });
}
