import type { ComposeFields } from '../../shared/console/compose.std';
import { checkCompose } from '../../shared/console/compose.std';
import type { ConsoleEncryptResult, ConsoleScheme } from '../../shared/contract/console.std';
import { toErrorShape } from '../../shared/errors.std';
import { countGatewayKeyUse } from '../lifecycle/usage.nodejs';
import {
  PADDING_SCHEME,
  SCHEME_PADDING,
  onlyGiven,
  refuseSchemeMismatch,
  type ConsoleContext,
} from './console-context.nodejs';
import { buildMerchantBody, curlCommand, joinUrl } from './merchant-body.nodejs';

/** Client-side encryption: a merchant body with the composed fields encrypted to the pinned key. */
export async function encryptFields(
  ctx: ConsoleContext,
  request: {
    profileId: string;
    fields: ComposeFields;
    scheme?: ConsoleScheme | undefined;
    amount?: string | undefined;
    overrideScheme?: boolean | undefined;
  },
): Promise<ConsoleEncryptResult> {
  const profile = ctx.profile(request.profileId);
  const fields = onlyGiven(request.fields);
  const compose = checkCompose(fields);
  const { key, info } = await ctx.pinnedKey(request.profileId);
  const scheme = request.scheme ?? (profile.cse ? PADDING_SCHEME[profile.cse] : PADDING_SCHEME[key.padding]);
  const padding = SCHEME_PADDING[scheme];
  try {
    refuseSchemeMismatch(padding, key.padding, request.overrideScheme);
    const built = buildMerchantBody(key.keyObject, fields, padding, request.amount ?? '1.00');
    countGatewayKeyUse(ctx.deps.usage, key.spkiSha256, built.fields.length);
    const bodyJson = JSON.stringify(built.body, null, 2);
    const endpoint = joinUrl(profile.baseUrl, built.path);
    const notes: string[] = [];
    if (padding !== key.padding) {
      notes.push(
        `Override confirmed: the gateway advertises ${key.padding} for this key; a body made with ${padding} will not decrypt there.`,
      );
    }
    if (padding === 'RSAES-PKCS1-V1_5') {
      notes.push(
        "PKCS#1 v1.5, standard base64, full modulus length: what PayTrace's JavaScript library sends.",
      );
    }
    if (built.path !== '/v1/transactions/sale/keyed' && built.path !== '/v1/transactions/sale/swiped') {
      notes.push(
        "PayTrace's own check API takes these numbers in clear; this gateway's contract takes them encrypted.",
      );
    }
    const entry = ctx.history.add({
      kind: 'encrypt',
      profileId: request.profileId,
      scheme,
      fields,
      outcome: 'ok',
      summary: `${built.fields.length} field(s) under ${info.spkiSha256.slice(0, 16)}…`,
    });
    ctx.remember({
      kind: 'cse',
      profileId: request.profileId,
      scheme,
      keyFingerprint: info.spkiSha256,
      keyId: info.keyId,
      setId: null,
      lengths: Object.fromEntries(built.fields.map((f) => [f.path, f.bytes])),
    });
    return {
      scheme,
      padding,
      key: info,
      body: built.body,
      bodyJson,
      endpoint,
      curl: curlCommand(endpoint, JSON.stringify(built.body)),
      fields: built.fields,
      compose,
      notes,
      historyId: entry.id,
    };
  } catch (error) {
    ctx.history.add({
      kind: 'encrypt',
      profileId: request.profileId,
      scheme,
      fields,
      outcome: toErrorShape(error).code,
      summary: 'not encrypted',
    });
    throw error;
  }
}
