import { z } from 'zod';
import { GatewayError } from './errors.nodejs';
import { decodeBase64Strict } from './fields.nodejs';

/**
 * Request parsing. A VALIDATION message names the field and the rule, never the value: the
 * value may be a card number sent to the wrong place.
 */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue && issue.path.length ? issue.path.join('.') : 'body';
  const rule =
    issue?.code === 'unrecognized_keys' ? 'has a field the contract does not define' : 'is not valid';
  throw new GatewayError('VALIDATION', `${path} ${rule}.`);
}

export const base64String = z
  .string()
  .refine((s) => decodeBase64Strict(s) !== null, 'must be standard base64');

export const saltString = z
  .string()
  .refine((s) => (decodeBase64Strict(s)?.length ?? 0) >= 16, 'must be base64 of at least 16 bytes');

export const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
