import { randomBytes } from 'node:crypto';
import type { StepKind } from '../../../shared/ceremony/script.std';
import {
  EnterComponentInputSchema,
  RevealComponentInputSchema,
} from '../../../shared/ceremony/token-ops.std';
import { MkmError } from '../../../shared/errors.std';
import type { LabelledKcv } from '../../../shared/formats/kcv-methods.std';
import type { z } from 'zod';
import type { CeremonyServiceOptions, Details, StepContext, StepExecutor } from '../ceremony-service.nodejs';
import type { CeremonyComponentStore, TokenCaller } from './component-store.nodejs';

/**
 * The token side of forming and splitting keys, as ceremony steps (issue 11 point 3). Main only
 * forwards ciphertexts: a component goes from the custodian's window to the token host encrypted
 * to the ceremony's transport key, and comes back to one custodian's window encrypted to their
 * own ephemeral key. What a step records (the transcript) is check values and ids, never a
 * component, nor a ciphertext of one.
 */

export interface ComponentExecutorDeps {
  tokens: TokenCaller;
  store: CeremonyComponentStore;
}

/** The key a form-key or split-key ceremony is about (its script's parameters). */
function keyParams(ctx: StepContext) {
  const p = ctx.journal.header.script.params;
  if (p.template !== 'form-key' && p.template !== 'split-key') {
    throw new MkmError('VALIDATION', `A ${p.template} ceremony has no key components.`, {
      template: p.template,
    });
  }
  return p;
}

export function input<T extends z.ZodType>(schema: T, raw: unknown): z.infer<T> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  // Paths only: an input may hold a ciphertext, never echoed.
  throw new MkmError('VALIDATION', undefined, {
    issues: r.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`),
  });
}

export function kcvDetails(prefix: string, kcvs: readonly LabelledKcv[]): Details {
  return Object.fromEntries(kcvs.map((k) => [`${prefix}Kcv${k.method === 'legacy' ? '' : 'Cmac'}`, k.kcv]));
}

/**
 * The CKA_ID of the key a step makes, journaled (intent) before the key exists. A step tried
 * again after a refusal (a degenerate key, a component re-asked) keeps the id it journaled, so
 * retries never pile intents up in the journal; the token refuses the id if a key holds it.
 */
export async function intendedKeyId(ctx: StepContext): Promise<string> {
  const earlier = ctx.journal.intents.find((i) => i.step === ctx.step.id && i.slotId === ctx.slotId);
  if (earlier?.keyIds.length === 1) return earlier.keyIds[0]!;
  const id = randomBytes(16).toString('hex');
  await ctx.intend([id]);
  return id;
}

export function enterComponentExecutor({ tokens, store }: ComponentExecutorDeps): StepExecutor {
  return async (ctx) => {
    const { keyType } = keyParams(ctx);
    const index = ctx.step.index!;
    const { ciphertext, transportKeySha256, confirmKcv } = input(EnterComponentInputSchema, ctx.input);
    const held = store.current(ctx.journal.id, transportKeySha256);
    const { kcvs } = await tokens.call('componentCheck', {
      slotId: held.slotId,
      transportKeyId: held.transportKeyId,
      keyType,
      ciphertext,
      componentIndex: index,
    });
    if (confirmKcv !== undefined && !kcvs.some((k) => k.kcv === confirmKcv)) {
      throw new MkmError('COMPONENT_KCV_MISMATCH', undefined, { componentIndex: index });
    }
    store.holdComponent(ctx.journal.id, index, ciphertext);
    return {
      ...kcvDetails(`component${index}`, kcvs),
      [`component${index}Confirmed`]: confirmKcv !== undefined,
      transportKey: held.spkiSha256,
    };
  };
}

export function formKeyExecutor({ tokens, store }: ComponentExecutorDeps): StepExecutor {
  return async (ctx) => {
    const { keyType, components, label, purpose } = keyParams(ctx);
    const held = store.current(ctx.journal.id);
    const ciphertexts = store.components(ctx.journal.id, components);
    const id = await intendedKeyId(ctx);
    const formed = await tokens.call('formKeyFromComponents', {
      slotId: held.slotId,
      transportKeyId: held.transportKeyId,
      keyType,
      ciphertexts,
      label,
      id,
      purpose,
    });
    // The components have done their work: nothing of them is kept, the transport key goes.
    await store.forget(ctx.journal.id);
    ctx.fact('keyId', formed.id);
    return {
      keyId: formed.id,
      keyType,
      purpose,
      label,
      components,
      ...kcvDetails('key', formed.kcvs),
      tokenKcv: formed.tokenKcv,
      tokenCheckValue: formed.tokenCheckValue,
      // Token XOR (issue 11 point 3): where the components were combined, 'token' or 'host'.
      combinedOn: formed.combinedOn,
    };
  };
}

export function generateKeyExecutor({ tokens, store }: ComponentExecutorDeps): StepExecutor {
  return async (ctx) => {
    const { keyType, components, label, purpose } = keyParams(ctx);
    await store.transportKey(ctx.journal.id, ctx.slotId);
    const held = store.current(ctx.journal.id);
    const id = await intendedKeyId(ctx);
    const split = await tokens.call('splitKey', {
      slotId: held.slotId,
      transportKeyId: held.transportKeyId,
      keyType,
      components,
      label,
      id,
      purpose,
    });
    split.components.forEach((c, i) => store.holdComponent(ctx.journal.id, i + 1, c.ciphertext));
    ctx.fact('keyId', split.id);
    return {
      keyId: split.id,
      keyType,
      purpose,
      label,
      components,
      ...kcvDetails('key', split.kcvs),
      tokenKcv: split.tokenKcv,
      tokenCheckValue: split.tokenCheckValue,
      transportKey: held.spkiSha256,
    };
  };
}

export function revealComponentExecutor({ tokens, store }: ComponentExecutorDeps): StepExecutor {
  return async (ctx) => {
    const { keyType, components } = keyParams(ctx);
    const index = ctx.step.index!;
    const { revealKey } = input(RevealComponentInputSchema, ctx.input);
    const held = store.current(ctx.journal.id);
    const [ciphertext] = store.components(ctx.journal.id, components).slice(index - 1, index);
    const revealed = await tokens.call('revealComponent', {
      slotId: held.slotId,
      transportKeyId: held.transportKeyId,
      keyType,
      ciphertext: ciphertext!,
      revealKey,
      componentIndex: index,
    });
    // For the custodian's screen only (the step's reply, never journaled); the transcript gets KCVs.
    ctx.reply('component', revealed.ciphertext);
    ctx.reply('revealKeySha256', revealed.revealKeySha256);
    return {
      ...kcvDetails(`component${index}`, revealed.kcvs),
      [`component${index}RevealedTo`]: revealed.revealKeySha256,
    };
  };
}

/**
 * What a component ceremony loses with this process's memory (main or the token host
 * restarted): the components held as ciphertexts to the session transport key. Forming a key, the
 * components entered but no longer held are entered again. Splitting one, once any component is
 * no longer held before every custodian has seen theirs, the key is made again (the old one
 * removed) and every component shown so far is shown again: custodians never hold components of
 * two different keys.
 */
export function componentsLost(store: CeremonyComponentStore): NonNullable<CeremonyServiceOptions['lost']> {
  return (journal, { done, facts }) => {
    const { params, steps } = journal.header.script;
    const held = new Set(store.heldIndices(journal.id));
    const kind = (k: string) => steps.filter((s) => s.kind === k);
    if (params.template === 'form-key' && !done.has('form-key')) {
      const redo = kind('enter-component').filter((s) => done.has(s.id) && !held.has(s.index!));
      return { redo: redo.map((s) => s.id), remove: [] };
    }
    const reveals = kind('reveal-component');
    if (
      params.template === 'split-key' &&
      done.has('generate-key') &&
      reveals.some((s) => !done.has(s.id)) &&
      reveals.some((s) => !held.has(s.index!))
    ) {
      const keyId = facts.keyId;
      return {
        redo: ['generate-key', ...reveals.filter((s) => done.has(s.id)).map((s) => s.id)],
        remove: typeof keyId === 'string' ? [keyId] : [],
      };
    }
    return { redo: [], remove: [] };
  };
}

/** The executors of the component steps, for the composition root. */
export function componentExecutors(deps: ComponentExecutorDeps): Partial<Record<StepKind, StepExecutor>> {
  return {
    'enter-component': enterComponentExecutor(deps),
    'form-key': formKeyExecutor(deps),
    'generate-key': generateKeyExecutor(deps),
    'reveal-component': revealComponentExecutor(deps),
  };
}
