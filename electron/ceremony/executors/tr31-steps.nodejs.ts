import { createHash } from 'node:crypto';
import type { StepKind } from '../../../shared/ceremony/script.std';
import { Tr31ImportInputSchema, type Tr31HeaderSummary } from '../../../shared/ceremony/tr31-ops.std';
import { MkmError } from '../../../shared/errors.std';
import type { LabelledKcv } from '../../../shared/formats/kcv-methods.std';
import type { Details, StepContext, StepExecutor } from '../ceremony-service.nodejs';
import { intendedKeyId } from './component-steps.nodejs';
import type { TokenCaller } from './component-store.nodejs';

/**
 * TR-31 / X9.143 key blocks as ceremony steps (issue 11 point 4), over the token host's
 * `tr31Export` / `tr31Import` (electron/hsm/pkcs11/tr31-ops.host.ts). The transcript records the
 * header's fields, the key's and the KBPK's check values by method and the block's SHA-256, never
 * a key; the exported block itself goes back to the caller only (the step's reply).
 */

export interface Tr31ExecutorDeps {
  tokens: TokenCaller;
}

function paramsOf<T extends 'tr31-export' | 'tr31-import'>(ctx: StepContext, template: T) {
  const p = ctx.journal.header.script.params;
  if (p.template !== template) {
    throw new MkmError('VALIDATION', `A ${p.template} ceremony has no ${template} step.`, {
      template: p.template,
    });
  }
  return p as Extract<typeof p, { template: T }>;
}

function kcvDetails(prefix: string, kcvs: readonly LabelledKcv[]): Details {
  return Object.fromEntries(kcvs.map((k) => [`${prefix}Kcv${k.method === 'legacy' ? '' : 'Cmac'}`, k.kcv]));
}

function headerDetails(h: Tr31HeaderSummary): Details {
  return {
    blockVersion: h.version,
    usage: h.usage,
    algorithm: h.algorithm,
    modeOfUse: h.modeOfUse,
    keyVersion: h.keyVersion,
    exportability: h.exportability,
    optionalBlocks: h.optionalBlocks,
  };
}

const sha256 = (text: string) => createHash('sha256').update(text, 'ascii').digest('hex');

export function tr31ExportExecutor({ tokens }: Tr31ExecutorDeps): StepExecutor {
  return async (ctx) => {
    const p = paramsOf(ctx, 'tr31-export');
    const out = await tokens.call('tr31Export', {
      slotId: ctx.slotId,
      keyId: p.keyId,
      kbpkId: p.kbpkId,
      usage: p.usage,
      modeOfUse: p.modeOfUse,
      exportability: p.exportability,
      ...(p.version ? { version: p.version } : {}),
      ...(p.kbpkType ? { kbpkType: p.kbpkType } : {}),
      // The receiver checks both against the block: KC the key's, KP the KBPK's (CMAC on the token).
      kcv: { KC: 'cmac', KP: 'cmac' },
    });
    ctx.reply('block', out.block);
    ctx.fact('blockSha256', sha256(out.block));
    return {
      keyId: p.keyId,
      kbpkId: p.kbpkId,
      keyType: out.keyType,
      ...headerDetails(out.header),
      ...kcvDetails('key', out.keyKcvs),
      ...kcvDetails('kbpk', out.kbpkKcvs),
      blockSha256: sha256(out.block),
    };
  };
}

export function tr31ImportExecutor({ tokens }: Tr31ExecutorDeps): StepExecutor {
  return async (ctx) => {
    const p = paramsOf(ctx, 'tr31-import');
    const parsed = Tr31ImportInputSchema.safeParse(ctx.input);
    if (!parsed.success) {
      throw new MkmError('VALIDATION', undefined, {
        issues: parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`),
      });
    }
    const { block } = parsed.data;
    // Journaled (intent) before the key exists, so abort or resume removes a half-made one.
    const id = await intendedKeyId(ctx);
    const out = await tokens.call('tr31Import', {
      slotId: ctx.slotId,
      kbpkId: p.kbpkId,
      block,
      label: p.label,
      id,
      ...(p.kbpkType ? { kbpkType: p.kbpkType } : {}),
    });
    ctx.fact('keyId', out.id);
    return {
      keyId: out.id,
      kbpkId: p.kbpkId,
      label: out.label,
      keyType: out.keyType,
      ...headerDetails(out.header),
      ...kcvDetails('key', out.kcvs),
      tokenKcv: out.tokenKcv,
      ...kcvDetails('kbpk', out.kbpkKcvs),
      checkedInBlock: out.checkedKcvs,
      extractable: out.attributes.extractable,
      usages: Object.entries(out.attributes)
        .filter(([name, on]) => on && !['sensitive', 'extractable', 'wrapWithTrusted'].includes(name))
        .map(([name]) => name),
      blockSha256: sha256(block),
    };
  };
}

/** The executors of the TR-31 steps, for the composition root. */
export function tr31Executors(deps: Tr31ExecutorDeps): Partial<Record<StepKind, StepExecutor>> {
  return {
    'tr31-export': tr31ExportExecutor(deps),
    'tr31-import': tr31ImportExecutor(deps),
  };
}
