import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { faultedCall, requireBearer, userOf, type SandboxContext } from '../context.nodejs';
import { GatewayError } from '../errors.nodejs';
import { decodeBase64Strict, describeField, type FieldKind } from '../fields.nodejs';
import { FIELD_PADDINGS, decryptField, type FieldPadding } from '../rsa.nodejs';
import { parseBody, saltString } from '../validate.nodejs';

const ENCRYPTED_FIELDS: Record<string, FieldKind> = {
  encrypted_number: 'card',
  encrypted_csc: 'cvv',
  encrypted_swipe: 'swipe',
  encrypted_expiration: 'expiration',
  encrypted_account_number: 'account',
  encrypted_routing_number: 'routing',
};

// A field is one RSA block; 4096-bit keys give 684 base64 characters, so 2048 is ample.
const field = z.string().max(2048).optional();

const VerifySchema = z.object({
  padding: z.enum(FIELD_PADDINGS as [string, ...string[]]),
  key_id: z.string().min(1).max(128).optional(),
  salt: saltString,
  fields: z
    .object({
      encrypted_number: field,
      encrypted_csc: field,
      encrypted_swipe: field,
      encrypted_expiration: field,
      encrypted_account_number: field,
      encrypted_routing_number: field,
    })
    .strict()
    .refine((f) => Object.values(f).some((v) => v !== undefined), 'needs at least one field'),
});

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function registerVerifyRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  app.post('/v1/encryption/verify', { preHandler: requireBearer(ctx) }, (request, reply) => {
    const user = userOf(request);
    // Counted before anything else: malformed attempts are oracle queries too.
    const wait = ctx.verifyLimiter.take(user);
    if (wait > 0) {
      ctx.log.warn('verify rate limited', { user });
      throw new GatewayError('RATE_LIMITED', 'Too many verify requests; slow down.', {
        headers: { 'retry-after': String(wait) },
      });
    }
    const body = parseBody(VerifySchema, request.body);
    return faultedCall(ctx, request, reply, { issuesSet: false, macs: false }, () => {
      const gatewayKey = ctx.keyring.accepted(body.key_id);
      if (!gatewayKey)
        throw new GatewayError('NOT_FOUND', 'The gateway does not accept a key with this key_id.');
      const salt = decodeBase64Strict(body.salt)!;
      const padding = body.padding as FieldPadding;
      const fields: Record<string, unknown> = {};
      // Lists of field names, not name -> flag: the logger redacts any key that looks like a
      // card field, which would blank out the very audit this is.
      const decrypted: string[] = [];
      const failed: string[] = [];
      for (const [name, encoded] of Object.entries(body.fields)) {
        if (encoded === undefined) continue;
        const ciphertext = decodeBase64Strict(encoded);
        const clear = ciphertext ? decryptField(gatewayKey.key, padding, ciphertext) : null;
        let value: string | null = null;
        if (clear) {
          try {
            value = utf8.decode(clear);
          } catch {
            value = null;
          }
          clear.fill(0);
        }
        (value === null ? failed : decrypted).push(name);
        fields[name] =
          value === null
            ? { decrypted: false, error: 'DECRYPT_FAILED' }
            : { decrypted: true, ...describeField(ENCRYPTED_FIELDS[name]!, value, salt) };
      }
      // The audit trail of an oracle: who asked, under which key and padding, and what failed.
      ctx.log.info('verify', { user, key_id: gatewayKey.keyId, padding, decrypted, failed });
      return { status: 200, body: { fields } };
    });
  });
}
