import type { KeyObject } from 'node:crypto';
import type { ComposeFieldName, ComposeFields } from '../../shared/console/compose.std';
import type { ConsoleCipherField } from '../../shared/contract/console.std';
import { MkmError } from '../../shared/errors.std';
import { buildPaytraceBody, encryptField, type CsePadding } from '../crypto/cse.nodejs';

/**
 * The request a merchant's server sends after client-side encryption, as the console shows
 * it: PayTrace's JSON layout (cse.nodejs.ts builds the card part), the bank fields under
 * `check` with the gateway contract's `encrypted_` names, and the curl line that posts it.
 * PayTrace's own check API takes account and routing numbers in clear; a gateway following
 * this project's contract takes them encrypted, so the console encrypts them.
 */

/** PayTrace's paths for a keyed sale, a swiped sale and a check sale. */
export const MERCHANT_PATHS = {
  keyed: '/v1/transactions/sale/keyed',
  swiped: '/v1/transactions/sale/swiped',
  check: '/v1/checks/sale/by_account',
} as const;

export const AUTH_PLACEHOLDER = '<ACCESS_TOKEN>';

export interface MerchantBody {
  body: Record<string, unknown>;
  path: string;
  fields: ConsoleCipherField[];
}

const CIPHER_PATHS: readonly [string, ComposeFieldName][] = [
  ['credit_card.encrypted_number', 'number'],
  ['credit_card.encrypted_swipe', 'swipe'],
  ['encrypted_csc', 'csc'],
  ['check.encrypted_account_number', 'accountNumber'],
  ['check.encrypted_routing_number', 'routingNumber'],
];

function at(body: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], body);
}

export function buildMerchantBody(
  key: KeyObject,
  fields: ComposeFields,
  padding: CsePadding,
  amount: string,
): MerchantBody {
  const card = fields.number !== undefined || fields.swipe !== undefined || fields.csc !== undefined;
  const bank = fields.accountNumber !== undefined || fields.routingNumber !== undefined;
  if (!card && !bank)
    throw new MkmError('VALIDATION', 'Type a card number, a swipe or a bank account first.');
  if (card && bank) {
    throw new MkmError('VALIDATION', 'A payment is by card or by check, not both; clear one of them.', {
      field: 'accountNumber',
    });
  }
  let body: Record<string, unknown>;
  let path: string;
  if (card) {
    body = buildPaytraceBody(
      key,
      {
        ...(fields.number !== undefined ? { number: fields.number } : {}),
        ...(fields.csc !== undefined ? { csc: fields.csc } : {}),
        ...(fields.swipe !== undefined ? { swipe: fields.swipe } : {}),
        ...(fields.expiration !== undefined ? { expiration: fields.expiration } : {}),
        extra: { amount },
      },
      padding,
    );
    // Key order as PayTrace's samples show it: amount first.
    body = { amount, ...body };
    path = fields.swipe !== undefined ? MERCHANT_PATHS.swiped : MERCHANT_PATHS.keyed;
  } else {
    if (fields.accountNumber === undefined || fields.routingNumber === undefined) {
      throw new MkmError('VALIDATION', 'A check payment needs both the account and the routing number.', {
        field: fields.accountNumber === undefined ? 'accountNumber' : 'routingNumber',
      });
    }
    body = {
      amount,
      check: {
        encrypted_account_number: encryptField(key, fields.accountNumber, padding),
        encrypted_routing_number: encryptField(key, fields.routingNumber, padding),
      },
    };
    path = MERCHANT_PATHS.check;
  }
  const cipherFields: ConsoleCipherField[] = [];
  for (const [p, field] of CIPHER_PATHS) {
    const value = at(body, p);
    if (typeof value === 'string') {
      cipherFields.push({
        path: p,
        field,
        bytes: Buffer.from(value, 'base64').length,
        base64Length: value.length,
      });
    }
  }
  return { body, path, fields: cipherFields };
}

/** POSIX shell single quotes: nothing inside is expanded; a quote is closed, escaped, reopened. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The curl line a merchant's developer pastes; the only secret-shaped part is a placeholder. */
export function curlCommand(url: string, bodyJson: string): string {
  return [
    `curl -sS -X POST ${shellQuote(url)}`,
    `  -H ${shellQuote(`Authorization: Bearer ${AUTH_PLACEHOLDER}`)}`,
    `  -H 'Content-Type: application/json'`,
    `  --data-raw ${shellQuote(bodyJson)}`,
  ].join(' \\\n');
}

export function joinUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, '') + path;
}
