import { join } from 'node:path';
import type { StepKind } from '../../../shared/ceremony/script.std';
import {
  EnterShareInputSchema,
  kekBackupText,
  RevealShareInputSchema,
  type KekBackupRecord,
} from '../../../shared/ceremony/share-ops.std';
import { isErrorCode, MkmError } from '../../../shared/errors.std';
import { writeFileAtomic } from '../../core/atomic-file.nodejs';
import type { Details, StepContext, StepExecutor } from '../ceremony-service.nodejs';
import { input, intendedKeyId, kcvDetails } from './component-steps.nodejs';
import type { CeremonyComponentStore, TokenCaller } from './component-store.nodejs';

/**
 * The token side of a KEK's M-of-N backup as ceremony steps (issue 11 point 5): `reveal-share`
 * (the first one splits the key on the token host), `enter-share`, `recover-key`, `drill-share`.
 * Main forwards ciphertexts only (to the ceremony's transport key, or to one custodian's
 * ephemeral key); the transcript gets share numbers, fingerprints of the shares' public
 * commitments, the commitments' hash and check values, never a share nor a ciphertext of one.
 *
 * The backup record (commitments, check values) is public: the split writes it next to the
 * journal as `<ceremonies>/<id>.kek-backup.json` (and hands it back once in the step's reply);
 * it is carried to a recovery or a drill, on any machine, as the `backup` parameter of that
 * ceremony's script, so the script's hash covers what the shares are checked against.
 */

export interface ShareExecutorDeps {
  tokens: TokenCaller;
  /** The transport key per ceremony (shared with the component steps). */
  store: CeremonyComponentStore;
  shares: CeremonyShareStore;
  /** Where backup records are written (`DataPaths.ceremonies`). */
  recordFolder: string;
}

/** The file a backup ceremony leaves its public record in. */
export function backupRecordFile(folder: string, ceremonyId: string): string {
  return join(folder, `${ceremonyId}.kek-backup.json`);
}

interface Entered {
  index: number;
  ciphertexts: string[];
  transportKeySha256: string;
}

/**
 * What share steps hold between steps, in main's memory only: the backup a backup ceremony is
 * revealing (its id; the shares themselves stay in the token host, encrypted to the transport
 * key), and the shares entered for a recovery as ciphertexts to the transport key.
 */
export class CeremonyShareStore {
  private readonly backups = new Map<string, string>();
  private readonly entered = new Map<string, Map<number, Entered>>();

  backupOf(ceremonyId: string): string | undefined {
    return this.backups.get(ceremonyId);
  }

  setBackup(ceremonyId: string, backupId: string): void {
    this.backups.set(ceremonyId, backupId);
  }

  hold(ceremonyId: string, position: number, share: Entered): void {
    let m = this.entered.get(ceremonyId);
    if (!m) this.entered.set(ceremonyId, (m = new Map()));
    m.set(position, share);
  }

  /** Entries 1..count, all to the current transport key; CEREMONY_TRANSPORT_KEY_GONE naming the missing. */
  shares(ceremonyId: string, count: number, transportKeySha256: string): Entered[] {
    const m = this.entered.get(ceremonyId);
    const missing = Array.from({ length: count }, (_, i) => i + 1).filter(
      (p) => m?.get(p)?.transportKeySha256 !== transportKeySha256,
    );
    if (missing.length > 0) {
      throw new MkmError(
        'CEREMONY_TRANSPORT_KEY_GONE',
        `The shares of custodians ${missing.join(', ')} are no longer held (the app or the token host restarted since they were entered): abort and enter the shares again.`,
        { ceremonyId, missing: missing.map(String) },
      );
    }
    return Array.from({ length: count }, (_, i) => m!.get(i + 1)!);
  }

  forget(ceremonyId: string): void {
    this.backups.delete(ceremonyId);
    this.entered.delete(ceremonyId);
  }

  forgetAll(): void {
    this.backups.clear();
    this.entered.clear();
  }
}

function paramsOf<T extends 'kek-backup' | 'kek-recover' | 'share-drill'>(ctx: StepContext, template: T) {
  const p = ctx.journal.header.script.params;
  if (p.template !== template) {
    throw new MkmError('VALIDATION', `A ${p.template} ceremony has no ${template} share steps.`, {
      template: p.template,
    });
  }
  return p as Extract<typeof p, { template: T }>;
}

/** A share number an earlier custodian of this ceremony already presented (from the transcript's facts). */
function refuseDuplicate(ctx: StepContext, position: number, index: number): void {
  for (let earlier = 1; earlier < position; earlier++) {
    if (ctx.facts[`custodian${earlier}Share`] === index) {
      throw new MkmError(
        'SHARE_DUPLICATE_INDEX',
        `Share ${index} was already presented by custodian ${earlier}; each custodian presents their own share.`,
        { index, position, earlier, check: 'duplicate' },
      );
    }
  }
}

function recordDetails(record: KekBackupRecord): Details {
  return {
    backupId: record.backup.backupId,
    commitmentsSha256: record.commitmentsSha256,
    threshold: record.backup.threshold,
    count: record.backup.count,
    keyType: record.key.keyType,
    ...kcvDetails('key', record.key.kcvs),
  };
}

export function revealShareExecutor(deps: ShareExecutorDeps): StepExecutor {
  const { tokens, store, shares } = deps;
  return async (ctx) => {
    const p = paramsOf(ctx, 'kek-backup');
    const index = ctx.step.index!;
    const { revealKey } = input(RevealShareInputSchema, ctx.input);
    let backupId = shares.backupOf(ctx.journal.id);
    let split: Details = {};
    if (backupId === undefined) {
      // Split once, at the first reveal; after a restart the unrevealed shares are gone with the
      // host, and a second split would make shares of another backup: refused, not redone.
      if (typeof ctx.facts.backupId === 'string') {
        throw new MkmError('SHARE_BACKUP_GONE', undefined, { backupId: ctx.facts.backupId, index });
      }
      await store.transportKey(ctx.journal.id, ctx.slotId);
      const held = store.current(ctx.journal.id);
      const { record } = await tokens.call('shareSplitKek', {
        slotId: held.slotId,
        transportKeyId: held.transportKeyId,
        keyId: p.keyId,
        threshold: p.threshold,
        count: p.shares,
        ceremonyId: ctx.journal.id,
      });
      const file = backupRecordFile(deps.recordFolder, ctx.journal.id);
      // Public: commitments and check values, read by whoever runs the recovery or a drill.
      writeFileAtomic(file, kekBackupText(record), 0o644);
      backupId = record.backup.backupId;
      shares.setBackup(ctx.journal.id, backupId);
      ctx.reply('backupRecord', kekBackupText(record));
      split = { ...recordDetails(record), keyId: p.keyId, backupRecord: `${ctx.journal.id}.kek-backup.json` };
      ctx.fact('backupId', backupId);
    }
    const held = store.current(ctx.journal.id);
    const revealed = await tokens.call('shareReveal', {
      slotId: held.slotId,
      transportKeyId: held.transportKeyId,
      backupId,
      index,
      revealKey,
    });
    // For the custodian's screen only (the step's reply, never journaled).
    ctx.reply('share', revealed.ciphertexts.join(','));
    ctx.reply('revealKeySha256', revealed.revealKeySha256);
    if (index === p.shares) {
      // The last share is out: nothing of the backup is held any more; the transport key goes.
      shares.forget(ctx.journal.id);
      await store.forget(ctx.journal.id);
    }
    return {
      ...split,
      [`share${index}Fingerprint`]: revealed.fingerprint,
      [`share${index}RevealedTo`]: revealed.revealKeySha256,
    };
  };
}

/** A share the host named as bad, refused naming its number and the custodian who entered it. */
function refusal(problem: { code: string; check: string }, index: number, position: number): MkmError {
  const code = isErrorCode(problem.code) ? problem.code : 'SHARE_COMMITMENT_MISMATCH';
  return new MkmError(
    code,
    `Share ${index}, entered by custodian ${position}, is refused (${problem.check} check): it cannot be used.`,
    { index, position, check: problem.check },
  );
}

/** The share a custodian entered, checked by the token host alone against the script's backup record. */
async function checkEntered(
  { tokens, store }: ShareExecutorDeps,
  ctx: StepContext,
  template: 'kek-recover' | 'share-drill',
) {
  const p = paramsOf(ctx, template);
  const position = ctx.step.index!;
  const { ciphertexts, transportKeySha256 } = input(EnterShareInputSchema, ctx.input);
  const held = store.current(ctx.journal.id, transportKeySha256);
  const checked = await tokens.call('shareCheck', {
    slotId: held.slotId,
    transportKeyId: held.transportKeyId,
    record: p.backup,
    ciphertexts,
    position,
  });
  return { p, position, ciphertexts, transportKeySha256, held, checked };
}

export function enterShareExecutor(deps: ShareExecutorDeps): StepExecutor {
  return async (ctx) => {
    const { p, position, ciphertexts, transportKeySha256, held, checked } = await checkEntered(
      deps,
      ctx,
      'kek-recover',
    );
    if (checked.problem) throw refusal(checked.problem, checked.index, position);
    refuseDuplicate(ctx, position, checked.index);
    deps.shares.hold(ctx.journal.id, position, { index: checked.index, ciphertexts, transportKeySha256 });
    return {
      backupId: p.backup.backup.backupId,
      [`custodian${position}Share`]: checked.index,
      [`share${checked.index}Fingerprint`]: checked.fingerprint,
      transportKey: held.spkiSha256,
    };
  };
}

export function recoverKeyExecutor({ tokens, store, shares }: ShareExecutorDeps): StepExecutor {
  return async (ctx) => {
    const p = paramsOf(ctx, 'kek-recover');
    const held = store.current(ctx.journal.id);
    const entered = shares.shares(ctx.journal.id, p.threshold, held.spkiSha256);
    const id = await intendedKeyId(ctx);
    const recovered = await tokens.call('shareRecoverKek', {
      slotId: held.slotId,
      transportKeyId: held.transportKeyId,
      record: p.backup,
      shares: entered.map((e) => e.ciphertexts),
      label: p.label,
      id,
    });
    // The shares have done their work: nothing of them is kept, the transport key goes.
    shares.forget(ctx.journal.id);
    await store.forget(ctx.journal.id);
    ctx.fact('keyId', recovered.id);
    return {
      keyId: recovered.id,
      keyType: recovered.keyType,
      purpose: recovered.purpose,
      label: recovered.label,
      backupId: recovered.backupId,
      commitmentsSha256: p.backup.commitmentsSha256,
      sharesUsed: entered.map((e) => String(e.index)),
      ...kcvDetails('key', recovered.kcvs),
      tokenKcv: recovered.tokenKcv,
      tokenCheckValue: recovered.tokenCheckValue,
      kcvAsRecorded: true,
    };
  };
}

export function drillShareExecutor(deps: ShareExecutorDeps): StepExecutor {
  return async (ctx) => {
    const { p, position, checked } = await checkEntered(deps, ctx, 'share-drill');
    refuseDuplicate(ctx, position, checked.index);
    const i = checked.index;
    // A drill reports: a bad share is recorded as bad (named, with the check it failed) and the
    // drill goes on, so one drill tells every custodian where their share stands.
    const result: Details = {
      backupId: p.backup.backup.backupId,
      [`custodian${position}Share`]: i,
      [`share${i}`]: checked.problem ? 'bad' : 'good',
      ...(checked.problem
        ? { [`share${i}Problem`]: checked.problem.code, [`share${i}Check`]: checked.problem.check }
        : { [`share${i}Fingerprint`]: checked.fingerprint }),
    };
    if (position === p.shares) {
      const status = (n: number) => (n === i ? result[`share${n}`] : ctx.facts[`share${n}`]);
      const all = Array.from({ length: p.shares }, (_, k) => k + 1);
      const good = all.filter((n) => status(n) === 'good');
      result.drillGood = good.map(String);
      result.drillBad = all.filter((n) => status(n) === 'bad').map(String);
      result.drillRecoverable = good.length >= p.threshold;
      await deps.store.forget(ctx.journal.id);
    }
    return result;
  };
}

/** The executors of the share steps, for the composition root. */
export function shareExecutors(deps: ShareExecutorDeps): Partial<Record<StepKind, StepExecutor>> {
  return {
    'reveal-share': revealShareExecutor(deps),
    'enter-share': enterShareExecutor(deps),
    'recover-key': recoverKeyExecutor(deps),
    'drill-share': drillShareExecutor(deps),
  };
}
