import { z } from 'zod';
import { channel, CONFIRMED, slotOf } from '../contract-kit.std';
import {
  CreateCsrParamsSchema,
  ExportPublicKeyParamsSchema,
  GenerateKeyParamsSchema,
  KeyRefParamsSchema,
  ObjectClassSchema,
  ObjectRefParamsSchema,
  SlotIdSchema,
  type CsrResult,
  type DestroyResult,
  type ExportPublicKeyResult,
  type GenerateKeyResult,
  type KcvResult,
  type ObjectInfo,
} from '../tokens.std';
import {
  Tr31ExportParamsSchema,
  Tr31ImportParamsSchema,
  type Tr31ExportResult,
  type Tr31ImportResult,
} from '../ceremony/tr31-ops.std';

/**
 * Objects on the token, by hand (`keys.*`); managed keys are `lifecycle.*`.
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 */

export const keysContract = {
  list: channel(
    z.strictObject({ slotId: SlotIdSchema, class: ObjectClassSchema.optional() }),
    'Objects on the token with their attributes.',
  )
    .returns<ObjectInfo[]>()
    .notAudited('reads object attributes (never key material)'),
  get: channel(z.strictObject(ObjectRefParamsSchema.shape), 'One object with its attributes.')
    .returns<ObjectInfo>()
    .notAudited('reads object attributes (never key material)'),
  generate: channel(
    z.strictObject({ ...GenerateKeyParamsSchema.shape, operationId: z.string().max(64).optional() }),
    'Generate a key inside the token with a safe template.',
  )
    .returns<GenerateKeyResult>()
    .audited((r, res) => {
      const g = res as { id?: string; kcv?: { kcv: string }; spkiSha256?: string } | undefined;
      return {
        action: 'key.generate',
        ...(g?.id
          ? {
              key: {
                id: g.id,
                ...(g.kcv ? { kcv: g.kcv.kcv } : {}),
                ...(g.spkiSha256 ? { fingerprint: g.spkiSha256 } : {}),
              },
            }
          : {}),
        details: { ...slotOf(r), type: r.type, purpose: r.purpose, label: r.label },
      };
    }),
  exportPublic: channel(
    z.strictObject(ExportPublicKeyParamsSchema.shape),
    'A public key as PEM (SPKI) or JWK, with its SPKI-SHA256 fingerprint.',
  )
    .returns<ExportPublicKeyResult>()
    .audited((r, res) => ({
      action: 'key.export.public',
      key: {
        id: String(r.id),
        ...((res as { spkiSha256?: string })?.spkiSha256
          ? { fingerprint: (res as { spkiSha256: string }).spkiSha256 }
          : {}),
      },
      details: { ...slotOf(r), format: r.format },
    })),
  kcv: channel(z.strictObject(KeyRefParamsSchema.shape), "A secret key's check value.")
    .returns<KcvResult>()
    .notAudited('reads a check value, which reveals nothing of the key'),
  csr: channel(
    z.strictObject(CreateCsrParamsSchema.shape),
    'A PKCS#10 request signed by a key pair on the token.',
  )
    .returns<CsrResult>()
    .audited((r) => ({ action: 'key.csr', key: { id: String(r.id) }, details: slotOf(r) })),
  destroy: channel(
    z.strictObject({ ...ObjectRefParamsSchema.shape, confirm: CONFIRMED }),
    'Destroy an object on the token (it cannot be undone).',
  )
    .returns<DestroyResult>()
    .audited((r) => ({
      action: 'key.destroy',
      key: { id: String(r.id) },
      details: { ...slotOf(r), class: r.class },
    })),
  // TR-31 / X9.143 key blocks (issue 11 point 4): the block is no secret, the clear key is in no result.
  exportTr31: channel(
    z.strictObject(Tr31ExportParamsSchema.shape),
    'Export a key from the token as a TR-31 / X9.143 key block under a key block protection key.',
  )
    .returns<Tr31ExportResult>()
    .audited((r, res) => {
      const out = res as Tr31ExportResult | undefined;
      return {
        action: 'key.export.tr31',
        key: { id: String(r.keyId), ...(out ? { kcv: out.keyKcvs[0]!.kcv } : {}) },
        details: {
          ...slotOf(r),
          kbpkId: String(r.kbpkId),
          usage: String(r.usage),
          modeOfUse: String(r.modeOfUse),
          exportability: String(r.exportability),
          ...(out
            ? { version: out.header.version, kcvs: out.keyKcvs.map((k) => `${k.method}:${k.kcv}`) }
            : {}),
        },
      };
    }),
  importTr31: channel(
    z.strictObject(Tr31ImportParamsSchema.shape),
    'Import a TR-31 / X9.143 key block into the token under its key block protection key.',
  )
    .returns<Tr31ImportResult>()
    .audited((r, res) => {
      const out = res as Tr31ImportResult | undefined;
      return {
        action: 'key.import.tr31',
        ...(out ? { key: { id: out.id, kcv: out.kcvs[0]!.kcv } } : {}),
        details: {
          ...slotOf(r),
          kbpkId: String(r.kbpkId),
          label: String(r.label),
          ...(out
            ? {
                version: out.header.version,
                usage: out.header.usage,
                modeOfUse: out.header.modeOfUse,
                exportability: out.header.exportability,
                kcvs: out.kcvs.map((k) => `${k.method}:${k.kcv}`),
              }
            : {}),
        },
      };
    }),
} as const;
