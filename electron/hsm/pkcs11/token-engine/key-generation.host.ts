import { MkmError } from '../../../../shared/errors.std';
import {
  type GenerateKeyParams,
  type GenerateKeyResult,
  type ImportKeyParams,
  type ImportKeyResult,
  type KcvResult,
  type SecretKeyType,
  type SlotParams,
} from '../../../../shared/tokens.std';
import { CKR_MEANS, toMkmError } from '../ckr.std';
import { readAttribute } from '../objects.host';
import { BOOL_ATTR, pkcs11js, readBool, toTemplate, type Handle, type Template } from '../pkcs11.host';
import {
  keyPairTemplates,
  purposeRule,
  rsaBits,
  secretKeyTemplate,
  type AbstractTemplate,
  type BoolAttr,
} from '../templates.std';
import { exportRestrictionMissing, keyTemplateRefused } from './errors.std';
import { kcvOf, kcvOrDestroy, rsaPublic } from './key-reads.host';
import { safely, type SessionPool } from './session-pool.host';

const P = pkcs11js;
const RSA_F4 = Buffer.from([0x01, 0x00, 0x01]);

/**
 * Making keys on the token: generation (RSA pairs, AES and HMAC keys, with the narrow usages of
 * templates.std.ts) and import of a clear secret key; exportable ones only where the token keeps
 * the restriction to trusted KEKs.
 */
export class KeyGeneration {
  constructor(
    private readonly pool: SessionPool,
    /** The engine's probe, run when this host has not probed the slot yet (see exportAllowed). */
    private readonly probeCapabilities: (params: SlotParams) => Promise<unknown>,
  ) {}

  async generateKey(params: GenerateKeyParams): Promise<GenerateKeyResult> {
    const { slotId, type, label, purpose, exportable, acceptWiderUsage } = params;
    purposeRule(type, purpose);
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    const id = this.pool.randomId(slotId);
    const naming: Template = [
      { type: P.CKA_LABEL, value: label },
      { type: P.CKA_ID, value: id },
    ];
    const bits = rsaBits(type);
    if (bits === null) {
      const secretType = type as SecretKeyType;
      if (exportable) await this.exportAllowed(slotId);
      const template: Template = [
        { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
        { type: P.CKA_KEY_TYPE, value: secretType === 'aes-256' ? P.CKK_AES : P.CKK_GENERIC_SECRET },
        { type: P.CKA_VALUE_LEN, value: 32 },
        ...naming,
        ...toTemplate(secretKeyTemplate(secretType, purpose, { exportable })),
      ];
      const mechanism = {
        mechanism: secretType === 'aes-256' ? P.CKM_AES_KEY_GEN : P.CKM_GENERIC_SECRET_KEY_GEN,
      };
      const handle = await this.restrictedSecret(slotId, exportable === true, () =>
        this.pool.callAsync(slotId, () => pkcs11.C_GenerateKeyAsync(session.handle, mechanism, template)),
      );
      // The key exists now; a token without CMAC/HMAC signing must not turn that into an error
      // that leaves an unnamed key behind. The result then simply has no KCV.
      let kcv: KcvResult | undefined;
      try {
        kcv = kcvOf(this.pool, slotId, handle, secretType);
      } catch (error) {
        this.pool.logger.warn('Generated key has no KCV', {
          slotId,
          keyId: id.toString('hex'),
          code: toMkmError(error).code,
        });
      }
      const objects = this.pool.describeById(slotId, id.toString('hex'), ['secret']);
      this.pool.logger.info('Key generated', {
        slotId,
        type,
        purpose,
        label,
        keyId: id.toString('hex'),
        kcv: kcv?.kcv ?? null,
      });
      return { id: id.toString('hex'), type, purpose, label, objects, ...(kcv ? { kcv } : {}) };
    }
    if (exportable)
      throw new MkmError('VALIDATION', 'An RSA private key never leaves the token.', { field: 'exportable' });
    const t = keyPairTemplates(type, purpose);
    const publicTemplate: Template = [
      { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
      { type: P.CKA_MODULUS_BITS, value: bits },
      { type: P.CKA_PUBLIC_EXPONENT, value: RSA_F4 },
      ...naming,
      ...toTemplate(t.publicKey),
    ];
    const privateTemplate: Template = [
      { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
      ...naming,
      ...toTemplate(t.privateKey),
    ];
    const mechanism = { mechanism: P.CKM_RSA_PKCS_KEY_PAIR_GEN };
    let pair: { publicKey: Handle; privateKey: Handle };
    let widerUsage: string[] = [];
    try {
      pair = await this.pool.callAsync(slotId, () =>
        pkcs11.C_GenerateKeyPairAsync(session.handle, mechanism, publicTemplate, privateTemplate),
      );
    } catch (error) {
      const e = toMkmError(error);
      if (!CKR_MEANS.templateSuspect(e.details?.ckr)) throw e;
      // The token may refuse a usage set to false (tpm2-pkcs11: CKR_GENERAL_ERROR). Ask once more
      // without the refusals, then see which usages it gave beyond what mkm asked for.
      let wide: { publicKey: Handle; privateKey: Handle };
      try {
        wide = await this.pool.callAsync(slotId, () =>
          pkcs11.C_GenerateKeyPairAsync(
            session.handle,
            mechanism,
            withoutRefusals(publicTemplate),
            withoutRefusals(privateTemplate),
          ),
        );
      } catch {
        throw e;
      }
      widerUsage = [
        ...this.usagesBeyond(slotId, wide.privateKey, t.privateKey, 'private'),
        ...this.usagesBeyond(slotId, wide.publicKey, t.publicKey, 'public'),
      ];
      if (widerUsage.length > 0 && !acceptWiderUsage) {
        safely(() => pkcs11.C_DestroyObject(session.handle, wide.privateKey));
        safely(() => pkcs11.C_DestroyObject(session.handle, wide.publicKey));
        throw keyTemplateRefused(widerUsage, e);
      }
      pair = wide;
    }
    const pub = rsaPublic(this.pool, slotId, pair.publicKey);
    const objects = this.pool.describeById(slotId, id.toString('hex'), ['private', 'public']);
    this.pool.logger.info('Key pair generated', {
      slotId,
      type,
      purpose,
      label,
      keyId: id.toString('hex'),
      spkiSha256: pub.spkiSha256,
      ...(widerUsage.length ? { widerUsage } : {}),
    });
    return {
      id: id.toString('hex'),
      type,
      purpose,
      label,
      objects,
      spkiSha256: pub.spkiSha256,
      ...(widerUsage.length ? { widerUsage } : {}),
    };
  }

  async importKey(params: ImportKeyParams): Promise<ImportKeyResult> {
    const p = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(p.slotId);
    const abstract = secretKeyTemplate(p.type, p.purpose, { exportable: p.exportable });
    if (p.exportable) await this.exportAllowed(p.slotId);
    const id = this.pool.randomId(p.slotId);
    const value = Buffer.from(p.keyHex, 'hex');
    let handle: Handle;
    try {
      handle = await this.restrictedSecret(p.slotId, p.exportable === true, async () =>
        this.pool.call(p.slotId, () =>
          pkcs11.C_CreateObject(session.handle, [
            { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
            { type: P.CKA_KEY_TYPE, value: p.type === 'aes-256' ? P.CKK_AES : P.CKK_GENERIC_SECRET },
            { type: P.CKA_VALUE, value },
            { type: P.CKA_LABEL, value: p.label },
            { type: P.CKA_ID, value: id },
            ...toTemplate(abstract),
          ]),
        ),
      );
    } finally {
      value.fill(0);
    }
    const kcv = kcvOrDestroy(this.pool, p.slotId, handle, p.type);
    this.pool.logger.info('Key imported', {
      slotId: p.slotId,
      type: p.type,
      purpose: p.purpose,
      keyId: id.toString('hex'),
      kcv: kcv.kcv,
    });
    return { id: id.toString('hex'), ...kcv };
  }

  /**
   * An exportable key is made only where the restriction to trusted KEKs holds on the token (the
   * probe's `wrapWithTrusted`); a slot not probed yet by this host is probed first.
   */
  private async exportAllowed(slotId: number): Promise<void> {
    if (!this.pool.exportRestriction.has(slotId)) await this.probeCapabilities({ slotId });
    const found = this.pool.exportRestriction.get(slotId);
    if (found?.supported !== true) throw exportRestrictionMissing(undefined, found);
  }

  /**
   * Makes a secret key; an exportable one only with CKA_WRAP_WITH_TRUSTED kept on it
   * (templates.std.ts). A token that does not know the attribute refuses the template
   * (openCryptoki: CKR_ATTRIBUTE_TYPE_INVALID; every other attribute type is in the
   * non-exportable template too); one that takes it without keeping it gets its key destroyed.
   * Either way the key is not made: exportable without the restriction is never an outcome.
   */
  private async restrictedSecret(
    slotId: number,
    exportable: boolean,
    create: () => Promise<Handle>,
  ): Promise<Handle> {
    let handle: Handle;
    try {
      handle = await create();
    } catch (error) {
      const e = toMkmError(error);
      if (exportable && CKR_MEANS.attributeTypeInvalid(e.details?.ckr)) throw exportRestrictionMissing(e);
      throw e;
    }
    if (!exportable) return handle;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    let kept: boolean | null = null;
    try {
      kept = readBool(readAttribute(pkcs11, session.handle, handle, P.CKA_WRAP_WITH_TRUSTED));
    } catch {
      // Unreadable counts as not kept.
    }
    if (kept !== true) {
      safely(() => pkcs11.C_DestroyObject(session.handle, handle));
      throw exportRestrictionMissing();
    }
    return handle;
  }

  /** Usages the object has that its template set to false ("private:sign"). */
  private usagesBeyond(slotId: number, handle: Handle, asked: AbstractTemplate, half: string): string[] {
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    const out: string[] = [];
    for (const [name, wanted] of Object.entries(asked) as [BoolAttr, boolean][]) {
      if (wanted || !USAGES.has(name)) continue;
      const value = this.pool.call(slotId, () =>
        readAttribute(pkcs11, session.handle, handle, BOOL_ATTR[name]),
      );
      if (value?.length && value[0] !== 0) out.push(`${half}:${name}`);
    }
    return out;
  }
}

const USAGES = new Set<BoolAttr>(['encrypt', 'decrypt', 'wrap', 'unwrap', 'sign', 'verify', 'derive']);
const USAGE_ATTRS = new Set<number>([...USAGES].map((u) => BOOL_ATTR[u]));

/** A template without its usages set to false: what the token then does is its own default. */
function withoutRefusals(template: Template): Template {
  return template.filter((a) => !(USAGE_ATTRS.has(a.type) && a.value === false));
}
