import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  checkCompose,
  maskField,
  type ComposeFieldName,
  type ComposeFields,
  type ComposeReport,
} from '../../shared/console/compose.std';
import type {
  BatchScheme,
  BatchSummary,
  ConsoleCiphertextInfo,
  ConsoleDecryptResult,
  ConsoleEncryptResult,
  ConsoleHistoryEntry,
  ConsoleKeyInfo,
  ConsoleMessageResult,
  ConsoleProfileState,
  ConsoleScheme,
  ConsoleVerifyResult,
  EnvelopePart,
  RoundTripLeg,
  RoundTripRow,
} from '../../shared/contract/console.std';
import { MkmError, toErrorShape } from '../../shared/errors.std';
import { checkState } from '../audit/state-seal.nodejs';
import { abaChecksumOk } from '../../shared/formats/aba.std';
import { last4, panDigits } from '../../shared/formats/card.std';
import { parseBase64 } from '../../shared/formats/encoding.std';
import { formatExpiration, parseExpiration } from '../../shared/formats/expiration.std';
import { luhnValid } from '../../shared/formats/luhn.std';
import type { CsePadding } from '../crypto/cse.nodejs';
import { macInput } from '../crypto/envelope.nodejs';
import type { Logger } from '../core/logger.nodejs';
import type { EventBus } from '../core/registry.nodejs';
import type { CseFieldName, GatewayClient, PayloadFieldName } from '../gateway/client/gateway-client.nodejs';
import { countedUse, countGatewayKeyUse, type KeyUseCounter } from '../lifecycle/usage.nodejs';
import type { GatewayService } from '../gateway/gateway-service.nodejs';
import { requireCapability } from '../hsm/capability-guard.nodejs';
import type { TokensService } from '../hsm/tokens.nodejs';
import { checkBatchPaths, runBatch } from './batch.nodejs';
import { ConsoleHistory } from './history.nodejs';
import { buildMerchantBody, curlCommand, joinUrl } from './merchant-body.nodejs';

/**
 * The payload test console in main. Clear card and bank values arrive in a request, are used
 * for that call and dropped: they are never logged (not even handed to the redacting logger),
 * never stored, never returned except as masks. What it keeps is the history (masks only) and,
 * for the troubleshooter, `lastCiphertexts()`: schemes, key fingerprints, set ids and lengths.
 */

export const SCHEME_PADDING: Record<ConsoleScheme, CsePadding> = {
  paytrace: 'RSAES-PKCS1-V1_5',
  oaep: 'RSAES-OAEP-SHA256',
};
const PADDING_SCHEME: Record<CsePadding, ConsoleScheme> = {
  'RSAES-PKCS1-V1_5': 'paytrace',
  'RSAES-OAEP-SHA256': 'oaep',
};

/**
 * A body the gateway cannot decrypt is made only on an explicit override (the admin testing a
 * misconfigured integration); otherwise SCHEME_MISMATCH, before anything is encrypted.
 */
function refuseSchemeMismatch(padding: CsePadding, gatewayPadding: CsePadding, override?: boolean): void {
  if (padding === gatewayPadding || override === true) return;
  throw new MkmError(
    'SCHEME_MISMATCH',
    `The gateway advertises ${gatewayPadding} for this key and cannot decrypt ${padding}: choose its scheme, or confirm the override.`,
    { scheme: PADDING_SCHEME[padding], padding, gatewayPadding },
  );
}

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

const LAST_KEPT = 20;
const PROGRESS_EVERY_MS = 200;

export interface ConsoleServiceDeps {
  gateway: GatewayService;
  tokens: TokensService;
  logger: Logger;
  events: EventBus;
  /** The console's folder (DataPaths.console): its history file, only when asked to keep one. */
  consoleDir: string;
  /** Where the console's key uses are counted (the app's usage service). */
  usage?: KeyUseCounter | null;
}

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

function given(fields: ComposeFields): [ComposeFieldName, string][] {
  return (Object.entries(fields) as [ComposeFieldName, string | undefined][]).filter(
    (e): e is [ComposeFieldName, string] => typeof e[1] === 'string' && e[1] !== '',
  );
}

function onlyGiven(fields: ComposeFields): ComposeFields {
  return Object.fromEntries(given(fields)) as ComposeFields;
}

const b64len = (text: string) => Buffer.from(text, 'base64').length;

export function envelopeParts(
  e: { set_id: string; iv: string; ciphertext: string; mac: string },
  ivSource: 'set' | 'token' | 'given',
): EnvelopePart[] {
  const ivWhy = {
    set: "The key set's own IV, handed over by the gateway with the keys: a request under this set must use exactly this IV, and only once.",
    token:
      "16 fresh random bytes from the token's generator, sent with the message (as the gateway does for its answers), so no key and IV pair is ever used twice.",
    given: 'The IV the message came with (a gateway answer carries its own fresh IV).',
  }[ivSource];
  return [
    {
      name: 'set_id',
      value: e.set_id,
      bytes: Buffer.byteLength(e.set_id, 'utf8'),
      explanation:
        'Names the one-use key set whose keys sealed the message. The gateway looks the set up by it and refuses a set used before or expired.',
    },
    { name: 'iv', value: e.iv, bytes: b64len(e.iv), explanation: ivWhy },
    {
      name: 'ciphertext',
      value: e.ciphertext,
      bytes: b64len(e.ciphertext),
      explanation:
        "AES-256-CBC of the UTF-8 message with PKCS#7 padding, under the set's encryption key inside the token: always a multiple of 16 bytes.",
    },
    {
      name: 'mac',
      value: e.mac,
      bytes: b64len(e.mac),
      explanation:
        "HMAC-SHA256 under the set's MAC key over UTF-8(set_id) || '.' || iv || ciphertext. Checked before anything is decrypted, so a changed byte is refused without a padding oracle.",
    },
  ];
}

export class ConsoleService {
  readonly history: ConsoleHistory;
  private readonly last: ConsoleCiphertextInfo[] = [];
  private readonly batches = new Map<string, { abort: AbortController; done: Promise<unknown> }>();
  /** Sets whose own IV sealed a console message that was never sent: not to be used again. */
  private readonly spentSets = new Set<string>();

  constructor(private readonly deps: ConsoleServiceDeps) {
    this.history = new ConsoleHistory(join(deps.consoleDir, 'history.json'), deps.logger);
  }

  // ------------------------------------------------------------------ compose

  compose(fields: ComposeFields): ComposeReport {
    return checkCompose(fields);
  }

  // ------------------------------------------------------------------ profiles and keys

  private profile(profileId: string) {
    const found = this.deps.gateway.listProfiles().find((p) => p.id === profileId);
    if (!found) throw new MkmError('NOT_FOUND', `No gateway profile "${profileId}".`, { profileId });
    return found;
  }

  /** `forUse`: card data is about to be encrypted to it (a view of the profile only shows it). */
  private async pinnedKey(profileId: string, forUse = true) {
    const client = await this.deps.gateway.consoleClient(profileId, { needsLogin: false });
    // Card data is encrypted to this key: only as pinned while the token's seal vouches for it.
    if (forUse) await checkState(this.deps.gateway.stateFile(profileId), 'the pinned gateway key');
    const key = client.pinnedGatewayKey();
    if (!key) {
      throw new MkmError(
        'NOT_FOUND',
        'No gateway public key is pinned for this profile yet: fetch it (Gateway, or mkm gateway fetch-key) or import its PEM.',
        { profileId, reason: 'no-pinned-key' },
      );
    }
    const info: ConsoleKeyInfo = {
      profileId,
      keyId: key.keyId,
      spkiSha256: key.spkiSha256,
      modulusBits: key.modulusBits,
      padding: key.padding,
    };
    return { key, info, client };
  }

  async profileState(profileId: string): Promise<ConsoleProfileState> {
    const profile = this.profile(profileId);
    let key: ConsoleKeyInfo | null = null;
    let currentSet: ConsoleProfileState['currentSet'] = null;
    try {
      key = (await this.pinnedKey(profileId, false)).info;
    } catch (error) {
      if (!(error instanceof MkmError && error.code === 'NOT_FOUND')) throw error;
    }
    const state = this.deps.gateway.readState(profileId);
    if (state.keySet) currentSet = { setId: state.keySet.setId, expiresAt: state.keySet.expiresAt };
    const scheme = profile.cse ? PADDING_SCHEME[profile.cse] : key ? PADDING_SCHEME[key.padding] : null;
    return { profileId, scheme, key, keyRolling: profile.keyRolling, currentSet };
  }

  private remember(info: Omit<ConsoleCiphertextInfo, 'at'>): void {
    this.last.unshift({ at: new Date().toISOString(), ...info });
    if (this.last.length > LAST_KEPT) this.last.length = LAST_KEPT;
  }

  /** Non-secret facts about the last ciphertexts made here, newest first (for the troubleshooter). */
  lastCiphertexts(): ConsoleCiphertextInfo[] {
    return this.last.map((i) => ({ ...i, lengths: { ...i.lengths } }));
  }

  // ------------------------------------------------------------------ client-side encryption

  async encrypt(request: {
    profileId: string;
    fields: ComposeFields;
    scheme?: ConsoleScheme | undefined;
    amount?: string | undefined;
    overrideScheme?: boolean | undefined;
  }): Promise<ConsoleEncryptResult> {
    const profile = this.profile(request.profileId);
    const fields = onlyGiven(request.fields);
    const compose = checkCompose(fields);
    const { key, info } = await this.pinnedKey(request.profileId);
    const scheme =
      request.scheme ?? (profile.cse ? PADDING_SCHEME[profile.cse] : PADDING_SCHEME[key.padding]);
    const padding = SCHEME_PADDING[scheme];
    try {
      refuseSchemeMismatch(padding, key.padding, request.overrideScheme);
      const built = buildMerchantBody(key.keyObject, fields, padding, request.amount ?? '1.00');
      countGatewayKeyUse(this.deps.usage, key.spkiSha256, built.fields.length);
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
      const entry = this.history.add({
        kind: 'encrypt',
        profileId: request.profileId,
        scheme,
        fields,
        outcome: 'ok',
        summary: `${built.fields.length} field(s) under ${info.spkiSha256.slice(0, 16)}…`,
      });
      this.remember({
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
      this.history.add({
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

  // ------------------------------------------------------------------ key-rolling messages

  private async loggedInSlot(): Promise<number> {
    const slot = (await this.deps.tokens.slots()).find((s) => s.token && s.session.loggedIn);
    if (!slot) throw new MkmError('NOT_LOGGED_IN', 'Log in to the token that holds the key set.');
    return slot.slotId;
  }

  /** The client's current set and the token objects behind it (ids only). */
  private async currentSet(profileId: string, orRequest: boolean) {
    const profile = this.profile(profileId);
    if (!profile.keyRolling) {
      throw new MkmError('VALIDATION', 'This profile does not use key-rolling messages.', { profileId });
    }
    const client = await this.deps.gateway.consoleClient(profileId, { needsLogin: true });
    let info = client.currentKeySet();
    if (info && this.spentSets.has(info.setId) && orRequest) info = await client.requestKeySet();
    if (!info) {
      if (!orRequest) {
        throw new MkmError(
          'NOT_FOUND',
          'No key set is in the token for this profile; encrypt a message first.',
          {
            profileId,
            reason: 'no-key-set',
          },
        );
      }
      info = await client.requestKeySet();
    }
    const record = this.deps.gateway.readState(profileId).keySet;
    if (!record || record.setId !== info.setId) {
      throw new MkmError('KEY_NOT_FOUND', 'The key set changed while it was being read; try again.', {
        profileId,
      });
    }
    return { client, info, record, slotId: await this.loggedInSlot() };
  }

  async encryptMessage(request: {
    profileId: string;
    text: string;
    ivSource?: 'set' | 'token' | undefined;
  }): Promise<ConsoleMessageResult> {
    await requireCapability(this.deps.tokens, await this.loggedInSlot(), 'console-message');
    const ivSource = request.ivSource ?? 'token';
    const { info, record, slotId } = await this.currentSet(request.profileId, true);
    const { tokens } = this.deps;
    const iv =
      ivSource === 'set'
        ? Buffer.from(record.iv, 'base64')
        : Buffer.from((await tokens.call('generateRandom', { slotId, length: 16 })).data, 'base64');
    const plain = Buffer.from(request.text, 'utf8');
    let ciphertext: Buffer;
    try {
      const encrypted = await tokens.call('encrypt', {
        slotId,
        id: record.encKeyId,
        mechanism: 'AES_CBC_PAD',
        iv: iv.toString('base64'),
        data: plain.toString('base64'),
      });
      ciphertext = Buffer.from(encrypted.data, 'base64');
    } finally {
      plain.fill(0);
    }
    const { mac } = await tokens.call('hmacSign', {
      slotId,
      id: record.macKeyId,
      data: macInput('req', info.setId, iv, ciphertext).toString('base64'),
    });
    const notes: string[] = [];
    if (Date.parse(info.expiresAt) <= Date.now()) {
      notes.push(`This set expired at ${info.expiresAt}: the gateway would answer KEY_SET_EXPIRED.`);
    }
    if (ivSource === 'set') {
      // The set's key and IV now sealed a message that is not sent; a real request must not reuse them.
      this.spentSets.add(info.setId);
      notes.push(
        "This envelope is exactly the request the gateway would accept under this set. The set's IV is now used; the console asks for a fresh set before its next message.",
      );
    }
    const envelope = {
      set_id: info.setId,
      iv: iv.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
      mac,
    };
    this.history.add({
      kind: 'message',
      profileId: request.profileId,
      scheme: 'aes-256-cbc+hmac-sha256',
      outcome: 'ok',
      summary: `sealed ${Buffer.byteLength(request.text, 'utf8')} bytes under set ${info.setId}`,
    });
    this.remember({
      kind: 'message',
      profileId: request.profileId,
      scheme: 'aes-256-cbc+hmac-sha256',
      keyFingerprint: null,
      keyId: info.wrappingKeyId,
      setId: info.setId,
      lengths: { iv: iv.length, ciphertext: ciphertext.length, mac: b64len(mac) },
    });
    return {
      profileId: request.profileId,
      setId: info.setId,
      wrappingKeyId: info.wrappingKeyId,
      expiresAt: info.expiresAt,
      ivSource,
      envelope,
      parts: envelopeParts(envelope, ivSource),
      plaintextBytes: Buffer.byteLength(request.text, 'utf8'),
      notes,
    };
  }

  async decryptMessage(request: {
    profileId: string;
    envelope: { set_id: string; iv?: string | undefined; ciphertext: string; mac: string };
  }): Promise<ConsoleDecryptResult> {
    await requireCapability(this.deps.tokens, await this.loggedInSlot(), 'console-message');
    const { info, record, slotId } = await this.currentSet(request.profileId, false);
    const e = request.envelope;
    if (e.set_id !== info.setId) {
      throw new MkmError(
        'KEY_SET_UNKNOWN',
        `The envelope names set ${e.set_id.slice(0, 128)}, but the token holds set ${info.setId} for this profile. A set lives in the token of the process that received it, and each set seals one message.`,
        { envelopeSetId: e.set_id.slice(0, 128), currentSetId: info.setId },
      );
    }
    const ivText = e.iv ?? record.iv;
    const iv = parseBase64(ivText, { length: 16 });
    const parsedCiphertext = parseBase64(e.ciphertext);
    const ciphertext =
      parsedCiphertext.ok && parsedCiphertext.bytes.length >= 16 && parsedCiphertext.bytes.length % 16 === 0
        ? parsedCiphertext
        : ({ ok: false } as const);
    const mac = parseBase64(e.mac, { length: 32 });
    const invalid = (why: string) => new MkmError('MAC_INVALID', why, { setId: info.setId });
    if (!iv.ok) throw new MkmError('VALIDATION', 'The IV must be 16 bytes of base64.', { field: 'iv' });
    if (!ciphertext.ok) {
      throw new MkmError('VALIDATION', 'The ciphertext must be base64 of a whole number of 16-byte blocks.', {
        field: 'ciphertext',
      });
    }
    if (!mac.ok) throw new MkmError('VALIDATION', 'The MAC must be 32 bytes of base64.', { field: 'mac' });
    const { tokens } = this.deps;
    const verified = await tokens.call('hmacVerify', {
      slotId,
      id: record.macKeyId,
      data: macInput('req', e.set_id, iv.bytes, ciphertext.bytes).toString('base64'),
      mac: Buffer.from(mac.bytes).toString('base64'),
    });
    if (!verified.valid) {
      throw invalid(
        'The MAC does not match: the envelope was changed, or made with another set, IV or MAC key. Nothing was decrypted.',
      );
    }
    let clear: Buffer;
    try {
      clear = Buffer.from(
        (
          await tokens.call('decrypt', {
            slotId,
            id: record.encKeyId,
            mechanism: 'AES_CBC_PAD',
            iv: Buffer.from(iv.bytes).toString('base64'),
            data: Buffer.from(ciphertext.bytes).toString('base64'),
          })
        ).data,
        'base64',
      );
    } catch (error) {
      if (
        error instanceof MkmError &&
        ['ENCRYPTED_DATA_INVALID', 'DATA_LEN_RANGE', 'DATA_INVALID'].includes(error.code)
      ) {
        throw invalid('The MAC matched but the padding did not: the sender used another encryption key.');
      }
      throw error;
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(clear);
    } catch {
      throw invalid('The MAC matched but the message is not UTF-8 text.');
    } finally {
      clear.fill(0);
    }
    let json = false;
    try {
      JSON.parse(text);
      json = true;
    } catch {
      json = false;
    }
    const envelope = { set_id: e.set_id, iv: ivText, ciphertext: e.ciphertext, mac: e.mac };
    return {
      profileId: request.profileId,
      setId: info.setId,
      macOk: true,
      text,
      json,
      parts: envelopeParts(envelope, e.iv === undefined ? 'set' : 'given'),
    };
  }

  // ------------------------------------------------------------------ round trip

  async verify(request: {
    profileId: string;
    fields: ComposeFields;
    legs?: ('cse' | 'secure')[] | undefined;
    /** The scheme the payload was composed with; absent: the profile's. */
    scheme?: ConsoleScheme | undefined;
    overrideScheme?: boolean | undefined;
  }): Promise<ConsoleVerifyResult> {
    const profile = this.profile(request.profileId);
    const fields = onlyGiven(request.fields);
    if (given(fields).length === 0) throw new MkmError('VALIDATION', 'Type at least one value to verify.');
    const wire = new Map(given(fields).map(([f, v]) => [f, wireValue(f, v)]));
    const legs = request.legs ?? [
      ...(profile.cse || profile.keyRolling === false ? (['cse'] as const) : []),
      ...(profile.keyRolling ? (['secure'] as const) : []),
    ];
    const cse = legs.includes('cse')
      ? await this.cseLeg(request.profileId, fields, wire, request.scheme, request.overrideScheme)
      : null;
    const secure = legs.includes('secure') ? await this.secureLeg(request.profileId, fields, wire) : null;
    const ok = [cse, secure].every((leg) => leg === null || leg.ok);
    const entry = this.history.add({
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

  private expected(field: ComposeFieldName, value: string, masked: string, gatewayName: string) {
    return {
      field,
      gatewayName,
      masked,
      expectedLength: [...value].length,
      expectedLast4: LAST4.includes(field) ? last4(value) : null,
    };
  }

  private row(
    base: ReturnType<ConsoleService['expected']>,
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

  private async cseLeg(
    profileId: string,
    fields: ComposeFields,
    wire: Map<ComposeFieldName, string>,
    scheme: ConsoleScheme | undefined,
    overrideScheme: boolean | undefined,
  ): Promise<RoundTripLeg> {
    const leg: RoundTripLeg = { endpoint: '/v1/encryption/verify', ok: false, rows: [], error: null };
    try {
      const { client, info, key } = await this.pinnedKey(profileId);
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
      this.remember({
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
          this.row(
            this.expected(f, v, maskField(f, fields[f]!), name),
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

  private async secureLeg(
    profileId: string,
    fields: ComposeFields,
    wire: Map<ComposeFieldName, string>,
  ): Promise<RoundTripLeg> {
    const leg: RoundTripLeg = { endpoint: '/v1/secure/verify_payload', ok: false, rows: [], error: null };
    try {
      const client: GatewayClient = await this.deps.gateway.consoleClient(profileId, { needsLogin: true });
      const current = client.currentKeySet();
      if (current && this.spentSets.has(current.setId)) await client.requestKeySet();
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
        leg.rows.push(
          this.row(this.expected(f, v, maskField(f, fields[f]!), name), v, answer.fields[name], tag),
        );
      }
      leg.ok = leg.rows.every((r) => r.ok);
    } catch (error) {
      leg.error = toErrorShape(error);
    }
    return leg;
  }

  // ------------------------------------------------------------------ history

  listHistory(limit?: number): ConsoleHistoryEntry[] {
    return this.history.list(limit);
  }

  // ------------------------------------------------------------------ batch

  async batchStart(request: {
    operationId?: string | undefined;
    inPath: string;
    /** An upload held in memory: read instead of inPath, which then only names it. */
    inData?: Buffer | undefined;
    outPath: string;
    scheme: BatchScheme;
    profileId?: string | undefined;
    keyId?: string | undefined;
    slotId?: number | undefined;
    overwrite?: boolean | undefined;
    overrideScheme?: boolean | undefined;
  }): Promise<BatchSummary> {
    const operationId = request.operationId ?? randomUUID();
    if (this.batches.has(operationId)) {
      throw new MkmError('CONFLICT', 'A batch with this operation id is already running.', { operationId });
    }
    checkBatchPaths(request.inData ? null : request.inPath, request.outPath, request.overwrite ?? false);
    const abort = new AbortController();
    const { events, tokens } = this.deps;
    let rsa: Parameters<typeof runBatch>[0]['rsa'];
    let aes: Parameters<typeof runBatch>[0]['aes'];
    let profileId: string | null = null;
    if (request.scheme === 'aes') {
      if (!request.keyId)
        throw new MkmError('VALIDATION', 'Choose the token AES key for an AES batch.', { field: 'keyId' });
      const slotId = request.slotId ?? (await this.loggedInSlot());
      const keyId = request.keyId.toLowerCase();
      const objects = await tokens.call('listObjects', { slotId, class: 'secret' });
      const key = objects.find((o) => o.id === keyId);
      if (!key)
        throw new MkmError('KEY_NOT_FOUND', `No secret key with id ${keyId} on the token.`, { keyId });
      if (key.keyType !== 'aes' || key.bits !== 256 || !key.usages.includes('encrypt')) {
        throw new MkmError('KEY_TYPE_INCONSISTENT', 'The batch needs an AES-256 key that may encrypt.', {
          keyId,
        });
      }
      aes = {
        keyId,
        random: async (length) =>
          Buffer.from((await tokens.call('generateRandom', { slotId, length })).data, 'base64'),
        encryptMany: (data, ivs) =>
          countedUse(this.deps.usage, { slotId, id: keyId }, 'encrypt', data.length, () =>
            tokens.encryptMany({ slotId, id: keyId, mechanism: 'AES_CBC_PAD', data, ivs }),
          ),
      };
    } else {
      if (!request.profileId) {
        throw new MkmError('VALIDATION', 'Choose the gateway profile whose public key encrypts the batch.', {
          field: 'profileId',
        });
      }
      profileId = request.profileId;
      const { key } = await this.pinnedKey(request.profileId);
      refuseSchemeMismatch(SCHEME_PADDING[request.scheme], key.padding, request.overrideScheme);
      rsa = { key: key.keyObject, padding: SCHEME_PADDING[request.scheme], fingerprint: key.spkiSha256 };
    }
    let lastEmit = 0;
    const emit = (phase: string, fraction: number | null, message: string) =>
      events.emit('progress', { operationId, phase, fraction, message });
    const running = runBatch({
      operationId,
      inPath: request.inPath,
      inData: request.inData,
      outPath: request.outPath,
      scheme: request.scheme,
      overwrite: request.overwrite ?? false,
      ...(rsa ? { rsa } : {}),
      ...(aes ? { aes } : {}),
      usage: this.deps.usage ?? null,
      signal: abort.signal,
      onProgress: (fraction, rows) => {
        const now = Date.now();
        if (rows !== 0 && now - lastEmit < PROGRESS_EVERY_MS) return;
        lastEmit = now;
        emit(rows === 0 ? 'started' : 'running', fraction, `${rows.toLocaleString('en-US')} rows encrypted…`);
      },
    });
    this.batches.set(operationId, { abort, done: running });
    let summary: BatchSummary;
    try {
      summary = await running;
    } finally {
      this.batches.delete(operationId);
    }
    emit(
      summary.status,
      summary.status === 'done' ? 1 : null,
      summary.status === 'done'
        ? `${summary.encrypted.toLocaleString('en-US')} rows encrypted, ${summary.failed.toLocaleString('en-US')} with errors.`
        : summary.status === 'cancelled'
          ? `Cancelled after ${summary.rows.toLocaleString('en-US')} rows; the partial output is ${summary.outputPath}.`
          : `Failed: ${summary.error?.message ?? 'unknown error'}`,
    );
    this.history.add({
      kind: 'batch',
      profileId,
      scheme: request.scheme,
      outcome:
        summary.status === 'done'
          ? 'ok'
          : summary.status === 'cancelled'
            ? 'CANCELLED'
            : (summary.error?.code ?? 'INTERNAL'),
      summary: `${summary.rows} rows, ${summary.encrypted} encrypted, ${summary.failed} errors (${summary.status})`,
    });
    this.remember({
      kind: 'batch',
      profileId,
      scheme: request.scheme,
      keyFingerprint: summary.keyFingerprint,
      keyId: aes?.keyId ?? null,
      setId: null,
      lengths: { rows: summary.rows },
    });
    this.deps.logger.info('console batch finished', {
      operationId,
      scheme: request.scheme,
      status: summary.status,
      rows: summary.rows,
      failed: summary.failed,
      elapsedMs: summary.elapsedMs,
    });
    return summary;
  }

  batchCancel(operationId: string): { cancelled: boolean } {
    const running = this.batches.get(operationId);
    if (!running) return { cancelled: false };
    running.abort.abort();
    return { cancelled: true };
  }

  /** Cancels running batches and waits for their partial output to be closed. */
  async close(): Promise<void> {
    const running = [...this.batches.values()];
    for (const b of running) b.abort.abort();
    await Promise.allSettled(running.map((b) => b.done));
  }
}

function tagMatches(salt: Uint8Array, value: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const expected = createHmac('sha256', salt).update(value, 'utf8').digest('hex');
  return expected === given.toLowerCase();
}
