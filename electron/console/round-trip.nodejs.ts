import { createHmac, randomBytes } from 'node:crypto';
import { maskField, type ComposeFieldName, type ComposeFields } from '../../shared/console/compose.std';
import type {
  ConsoleScheme,
  ConsoleVerifyResult,
  RoundTripLeg,
  RoundTripRow,
} from '../../shared/contract/console.std';
import { MkmError, toErrorShape } from '../../shared/errors.std';
import { abaChecksumOk } from '../../shared/formats/aba.std';
import { last4, panDigits } from '../../shared/formats/card.std';
import { formatExpiration, parseExpiration } from '../../shared/formats/expiration.std';
import { luhnValid } from '../../shared/formats/luhn.std';
import type { CseFieldName, GatewayClient, PayloadFieldName } from '../gateway/client/gateway-client.nodejs';
import {
  PADDING_SCHEME,
  SCHEME_PADDING,
  b64len,
  given,
  onlyGiven,
  refuseSchemeMismatch,
  type ConsoleContext,
} from './console-context.nodejs';

/**
 * The round trip: the composed values sent to the gateway's verify endpoints (CSE and
 * key-rolling), and its verdict per field compared with what was composed.
 */

/** The console's field names at the gateway's two verify endpoints. */
const CSE_NAME: Record<ComposeFieldName, CseFieldName> = {
  number: 'encrypted_number',
  csc: 'encrypted_csc',
  swipe: 'encrypted_swipe',
  expiration: 'encrypted_expiration',
  accountNumber: 'encrypted_account_number',
  routingNumber: 'encrypted_routing_number',
};
const PAYLOAD_NAME: Partial<Record<ComposeFieldName, PayloadFieldName>> = {
  number: 'card_number',
  expiration: 'expiration',
  csc: 'cvv',
  accountNumber: 'account_number',
  routingNumber: 'routing_number',
};
/** Fields the gateway tags (HMAC under the salt) and gives a last4 for. */
const TAGGED: readonly ComposeFieldName[] = ['number', 'accountNumber', 'routingNumber'];
const LAST4: readonly ComposeFieldName[] = ['number', 'accountNumber'];

/** The value as the gateway receives it: digits of a card number, an expiration as MM/YY. */
export function wireValue(field: ComposeFieldName, value: string): string {
  if (field === 'number') {
    const digits = panDigits(value);
    if (digits === null) throw new MkmError('VALIDATION', 'The card number must be digits.', { field });
    return digits;
  }
  if (field === 'expiration') {
    const parsed = parseExpiration(value);
    if (!parsed.ok) throw new MkmError('VALIDATION', `Expiration: ${parsed.message}.`, { field });
    return formatExpiration(parsed.value, 'MM/YY');
  }
  return value;
}

export async function verifyRoundTrip(
  ctx: ConsoleContext,
  request: {
    profileId: string;
    fields: ComposeFields;
    legs?: ('cse' | 'secure')[] | undefined;
    /** The scheme the payload was composed with; absent: the profile's. */
    scheme?: ConsoleScheme | undefined;
    overrideScheme?: boolean | undefined;
  },
): Promise<ConsoleVerifyResult> {
  const profile = ctx.profile(request.profileId);
  const fields = onlyGiven(request.fields);
  if (given(fields).length === 0) throw new MkmError('VALIDATION', 'Type at least one value to verify.');
  const wire = new Map(given(fields).map(([f, v]) => [f, wireValue(f, v)]));
  const legs = request.legs ?? [
    ...(profile.cse || profile.keyRolling === false ? (['cse'] as const) : []),
    ...(profile.keyRolling ? (['secure'] as const) : []),
  ];
  const cse = legs.includes('cse')
    ? await cseLeg(ctx, request.profileId, fields, wire, request.scheme, request.overrideScheme)
    : null;
  const secure = legs.includes('secure') ? await secureLeg(ctx, request.profileId, fields, wire) : null;
  const ok = [cse, secure].every((leg) => leg === null || leg.ok);
  const entry = ctx.history.add({
    kind: 'verify',
    profileId: request.profileId,
    scheme: cse?.padding ?? (secure ? 'key-rolling' : null),
    fields,
    outcome: ok ? 'ok' : (cse?.error?.code ?? secure?.error?.code ?? 'mismatch'),
    summary: [
      cse && `verify ${cse.ok ? 'matched' : 'did not match'}`,
      secure && `verify_payload ${secure.ok ? 'matched' : 'did not match'}`,
    ]
      .filter(Boolean)
      .join(', '),
  });
  return { profileId: request.profileId, cse, secure, historyId: entry.id };
}

function expected(field: ComposeFieldName, value: string, masked: string, gatewayName: string) {
  return {
    field,
    gatewayName,
    masked,
    expectedLength: [...value].length,
    expectedLast4: LAST4.includes(field) ? last4(value) : null,
  };
}

function row(
  base: ReturnType<typeof expected>,
  value: string,
  verdict:
    | {
        received: boolean;
        error?: string | undefined;
        length?: number | undefined;
        last4?: string | undefined;
        luhn_ok?: boolean | undefined;
        aba_ok?: boolean | undefined;
      }
    | undefined,
  tagMatch: boolean | null,
): RoundTripRow {
  const received = verdict?.received ?? false;
  const length = verdict?.length ?? null;
  const gwLast4 = verdict?.last4 ?? null;
  const luhnOk = verdict?.luhn_ok ?? null;
  const abaOk = verdict?.aba_ok ?? null;
  const agrees =
    received &&
    length === base.expectedLength &&
    gwLast4 === base.expectedLast4 &&
    tagMatch !== false &&
    (luhnOk === null || luhnOk === luhnValid(value)) &&
    (abaOk === null || abaOk === abaChecksumOk(value));
  return {
    ...base,
    received,
    error: verdict?.error ?? (verdict ? null : 'not in the answer'),
    length,
    last4: gwLast4,
    luhnOk,
    abaOk,
    tagMatch,
    ok: agrees,
  };
}

async function cseLeg(
  ctx: ConsoleContext,
  profileId: string,
  fields: ComposeFields,
  wire: Map<ComposeFieldName, string>,
  scheme: ConsoleScheme | undefined,
  overrideScheme: boolean | undefined,
): Promise<RoundTripLeg> {
  const leg: RoundTripLeg = { endpoint: '/v1/encryption/verify', ok: false, rows: [], error: null };
  try {
    const { client, info, key } = await ctx.pinnedKey(profileId);
    // The round trip checks what was composed (its scheme, not the profile's); without one, what
    // the gateway advertises.
    const padding = scheme ? SCHEME_PADDING[scheme] : key.padding;
    refuseSchemeMismatch(padding, key.padding, overrideScheme);
    const salt = randomBytes(16);
    const values: Partial<Record<CseFieldName, string>> = {};
    for (const [f, v] of wire) values[CSE_NAME[f]] = v;
    const request = client.encryptCseFields(values, salt, padding);
    leg.padding = request.padding;
    leg.keyId = request.key_id ?? null;
    ctx.remember({
      kind: 'cse',
      profileId,
      scheme: PADDING_SCHEME[request.padding],
      keyFingerprint: info.spkiSha256,
      keyId: info.keyId,
      setId: null,
      lengths: Object.fromEntries(Object.entries(request.fields).map(([n, c]) => [n, b64len(c!)])),
    });
    const answer = await client.verifyCse(request);
    for (const [f, v] of wire) {
      const name = CSE_NAME[f];
      const verdict = answer.fields[name];
      const tag = TAGGED.includes(f) ? tagMatches(salt, v, verdict?.tag) : null;
      leg.rows.push(
        row(
          expected(f, v, maskField(f, fields[f]!), name),
          v,
          verdict ? { ...verdict, received: verdict.decrypted } : undefined,
          tag,
        ),
      );
    }
    leg.ok = leg.rows.every((r) => r.ok);
  } catch (error) {
    leg.error = toErrorShape(error);
  }
  return leg;
}

async function secureLeg(
  ctx: ConsoleContext,
  profileId: string,
  fields: ComposeFields,
  wire: Map<ComposeFieldName, string>,
): Promise<RoundTripLeg> {
  const leg: RoundTripLeg = { endpoint: '/v1/secure/verify_payload', ok: false, rows: [], error: null };
  try {
    const client: GatewayClient = await ctx.deps.gateway.consoleClient(profileId, { needsLogin: true });
    const current = client.currentKeySet();
    if (current && ctx.spentSets.has(current.setId)) await client.requestKeySet();
    const salt = randomBytes(16);
    const payload: Partial<Record<PayloadFieldName, string>> = {};
    for (const [f, v] of wire) {
      const name = PAYLOAD_NAME[f];
      if (name) payload[name] = v;
    }
    if (Object.keys(payload).length === 0) {
      throw new MkmError(
        'VALIDATION',
        'verify_payload takes card, expiration, CVV, account and routing numbers; a swipe goes through /v1/encryption/verify.',
      );
    }
    const answer = await client.verifyPayload(payload, salt);
    leg.setId = answer.setId;
    leg.nextKeySet =
      'refused' in answer.nextKeySet
        ? { refused: answer.nextKeySet.refused }
        : { setId: answer.nextKeySet.setId, expiresAt: answer.nextKeySet.expiresAt };
    for (const [f, v] of wire) {
      const name = PAYLOAD_NAME[f];
      if (!name) continue;
      const tag = TAGGED.includes(f) ? (answer.tagMatches[name] ?? false) : null;
      leg.rows.push(row(expected(f, v, maskField(f, fields[f]!), name), v, answer.fields[name], tag));
    }
    leg.ok = leg.rows.every((r) => r.ok);
  } catch (error) {
    leg.error = toErrorShape(error);
  }
  return leg;
}

function tagMatches(salt: Uint8Array, value: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const expected = createHmac('sha256', salt).update(value, 'utf8').digest('hex');
  return expected === given.toLowerCase();
}
