import { constants, createHash, createVerify } from 'node:crypto';
import { join } from 'node:path';
import { contract } from '../../shared/contract.std';
import {
  auditDeclarations,
  type AuditDeclaration,
  type AuditMapTools,
  type Envelope,
} from '../../shared/contract-kit.std';
import { MkmError, toErrorShape, type ErrorCode, type MkmErrorShape } from '../../shared/errors.std';
import type { Logger } from '../core/logger.nodejs';
import { describeHolder, processRole } from '../core/process-role.nodejs';
import type { EventBus } from '../core/registry.nodejs';
import type { TokensService } from '../hsm/tokens.nodejs';
import {
  AUDIT_HEAD_LABEL,
  checkAnchor,
  readAnchor,
  writeAnchor,
  type AnchorIo,
  type AuditHead,
} from './anchor.nodejs';
import {
  AuditLog,
  LOG_FILE,
  currentOsUser,
  exportCsv,
  exportJson,
  queryAuditLog,
  sameKey,
  verifyAuditLog,
  type AuditAppend,
  type AuditFilter,
  type AuditKeyHandle,
  type AuditSealer,
  type VerifyReport,
} from './audit-log.nodejs';
import { handOff, takeHandOffs } from './handoff.nodejs';
import { readLines } from './line-reader.nodejs';
import { parseLine } from './record.nodejs';
import type { StateSealer, StateSeals } from './state-seal.nodejs';
import { SEAL_KINDS, SEAL_KIND_WORDS, sealKindOf, type SealKind } from './sealer.nodejs';
import { createTokenSealer } from './token-sealer.nodejs';
import type { SealCounter } from '../lifecycle/usage-seals.nodejs';

/**
 * The app's audit trail. What each channel records is declared on the channel itself (the
 * contract kit's `.audited(mapper)` / `.recordsItself()` / `.notAudited(reason)`); the registry
 * asks `gate` before a call and tells `onCall` after it. Entries are written at once; after a
 * login, the audit key on the token seals them, and the token keeps the newest seal (its audit
 * head, anchor.nodejs.ts) where a file writer cannot roll it back.
 *
 * Fail closed: a call that must be recorded is refused (AUDIT_BUSY while another process holds
 * the log; AUDIT_UNAVAILABLE when the log cannot be opened, is tampered with, is behind the
 * token's head, or cannot be written), never run with its entry held in memory. The one way
 * out of a damaged log is `recover`: verify, move the log aside untouched, and start a new
 * segment whose first entry names the quarantine and the old log's head.
 *
 * The audit key is pinned by id and KCV in the log itself (audit.key.generate / audit.key.pin
 * entries); a key that merely carries the label is not trusted once one is pinned, the pinned
 * keys and the head object cannot be destroyed through mkm, and verify checks each seal with
 * the pinned key that made it.
 */
export const AUDIT_KEY_LABEL = 'mkm-audit-key';

/** How often the gate tries again to open a log another process held or a disk refused. */
const REOPEN_MS = 1000;
const RECOVER_HINT = 'mkm audit recover --yes';

const mapTools: AuditMapTools = {
  sha256Hex: (text) => createHash('sha256').update(text, 'utf8').digest('hex'),
};

export interface AppAuditOptions {
  dir: string;
  /** The app's sealed state files: this trail lends them the audit key while a token is logged in. */
  seals: StateSeals;
  logger: Logger;
  events: EventBus;
  clock?: () => Date;
  /** What each channel records; default: the app's contract. */
  declarations?: ReadonlyMap<string, AuditDeclaration>;
  /** Counts audit and state seals as uses of the audit key (the app's usage service). */
  countSeal?: SealCounter;
}

/** Why audited calls are refused right now, and what an admin can do about it. */
export interface AuditUnavailable {
  cause: string;
  reason: string;
  /** The command that gets out of it, or null when it is outside the app (disk space, rights). */
  recover: string | null;
}

export interface AuditRecoverResult {
  movedTo: string;
  reason: string;
  oldHead: { seq: number; hash: string; lines: number } | null;
  verified: { ok: boolean; sealsVerified: boolean };
}

interface Attached {
  tokens: TokensService;
  slotId: number;
  key: AuditKeyHandle;
}

export class AppAudit {
  private log: AuditLog | null = null;
  private readonly pending: AuditAppend[] = [];
  private openError: MkmErrorShape | null = null;
  private opening: Promise<void>;
  /** Who holds the log's lock when another process does (CONFLICT at open). */
  private heldBy: number | null = null;
  /** What that process said it is (the app, an mkm command), when it did. */
  private heldRole: string | null = null;
  private lastTry = 0;
  private failedBefore = false;
  /** Set when the token's head shows the open log was rolled back or replaced. */
  private damaged: string | null = null;
  private actorToken: { serial: string; label: string } | null = null;
  private sealer: AuditSealer | null = null;
  private attached: Attached | null = null;
  private attaching: Promise<void> = Promise.resolve();
  private readonly clock: () => Date;
  private readonly declarations: ReadonlyMap<string, AuditDeclaration>;
  /** Why the logged-in token cannot seal (no audit key of any kind could be made); else null. */
  private sealImpossible: string | null = null;
  /** The audit keys the log pinned, as of the last login (state seals may be made by any). */
  private pinnedAtLogin: AuditKeyHandle[] = [];
  /** Lends the audit key to the sealed state files (state-seal.nodejs.ts). */
  private readonly stateSealer: StateSealer = {
    ready: () => this.attaching,
    current: () => (this.damaged === null ? (this.attached?.key ?? null) : null),
    impossible: () => this.sealImpossible,
    mac: async (key, message) => (await this.stateKeySealer(key).macBatch([message]))[0]!,
    verify: async (key, message, mac) =>
      (await this.stateKeySealer(key).verifyBatch!([message], [mac]))[0] === true,
    countSeal: (key, operation) => this.options.countSeal?.(key, operation),
  };

  constructor(private readonly options: AppAuditOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.declarations = options.declarations ?? auditDeclarations(contract);
    this.opening = this.open();
    options.seals.use(this.stateSealer);
  }

  /** A sealer by an audit key the log pins, on the logged-in token: for the sealed state files. */
  private stateKeySealer(key: AuditKeyHandle): AuditSealer {
    const attached = this.attached;
    if (!attached) throw new MkmError('NOT_LOGGED_IN');
    if (!sameKey(key, attached.key) && !this.pinnedAtLogin.some((k) => sameKey(k, key))) {
      throw new MkmError('STATE_TAMPERED', undefined, { reason: 'not an audit key', id: key.id });
    }
    return this.tokenSealer(attached.tokens, attached.slotId, key);
  }

  private async open(): Promise<void> {
    try {
      this.log = await AuditLog.open({
        dir: this.options.dir,
        actor: { osUser: currentOsUser(), token: null },
        logger: this.options.logger,
        clock: this.clock,
        onSealResult: (error) => this.sealResult(error),
        ...(this.options.countSeal ? { countSeal: this.options.countSeal } : {}),
      });
      // Opened late (another process held it): take on the token a login already attached.
      if (this.sealer) this.log.setSealer(this.sealer);
      if (this.actorToken) this.log.setActor({ token: this.actorToken });
      for (const entry of this.pending.splice(0)) this.log.append(entry);
      this.openError = null;
      this.heldBy = null;
      await this.adoptHandOffs();
    } catch (error) {
      const shape = toErrorShape(error);
      this.openError = shape;
      this.lastTry = this.clock().getTime();
      const { pid, holder } = (shape.details ?? {}) as { pid?: unknown; holder?: unknown };
      this.heldBy = shape.code === 'CONFLICT' ? (typeof pid === 'number' ? pid : 0) : null;
      this.heldRole = typeof holder === 'string' ? holder : null;
      // Said once; the gate's later tries are quiet.
      if (this.failedBefore) return;
      this.failedBefore = true;
      this.options.logger.error('the audit log could not be opened', { error });
      if (this.heldBy !== null) return;
      setImmediate(() =>
        this.options.events.emit('app.notice', {
          level: 'error',
          code: 'AUDIT_UNAVAILABLE',
          message: `The audit log could not be opened (${shape.code}): ${shape.message} ${this.wayOut()}`,
        }),
      );
    }
  }

  ready(): Promise<void> {
    return this.opening;
  }

  /** Appends what reading processes handed off (handoff.nodejs.ts), once it is on disk. */
  private async adoptHandOffs(): Promise<void> {
    const log = this.log;
    if (!log || this.damaged) return;
    try {
      const { entries, done } = takeHandOffs(this.options.dir);
      if (entries.length === 0) return;
      for (const entry of entries) log.append(entry);
      await log.flush();
      done();
    } catch (error) {
      this.options.logger.warn('entries handed off by another process could not be taken', { error });
    }
  }

  /** AUDIT_BUSY naming the process that holds the log (pid, and what it is when it said). */
  private busy(): MkmError {
    const who = this.heldBy
      ? describeHolder(this.heldBy, this.heldRole)
      : 'another Merchant Key Manager process';
    return new MkmError(
      'AUDIT_BUSY',
      `This action must be recorded in the audit log, which ${who} holds open; do it there, or close it and try again.`,
      this.heldBy ? { pid: this.heldBy, ...(this.heldRole ? { holder: this.heldRole } : {}) } : undefined,
    );
  }

  private wayOut(): string {
    return `Actions that must be recorded are refused until it is repaired: verify it (mkm audit verify), then move it aside and start a new log (Audit › Recover, or ${RECOVER_HINT}).`;
  }

  /** Why audited calls are refused now; null when the log takes entries. Checks the disk. */
  async unavailable(): Promise<AuditUnavailable | null> {
    if (this.damaged) return { cause: 'AUDIT_ROLLED_BACK', reason: this.damaged, recover: RECOVER_HINT };
    if (!this.log) {
      if (this.heldBy !== null || !this.openError) return null;
      const reason = String(
        (this.openError.details as { reason?: unknown } | undefined)?.reason ?? this.openError.message,
      );
      // A log that cannot be opened because of the disk is not made better by moving it aside.
      const disk = this.openError.code === 'IO_ERROR';
      return { cause: this.openError.code, reason, recover: disk ? null : RECOVER_HINT };
    }
    try {
      // What was appended so far must be on disk before one more action runs on its promise.
      await this.log.flush();
      return null;
    } catch (error) {
      const shape = toErrorShape(error);
      const code = this.log.status().writeError ?? shape.code;
      // Moving an intact log aside does not give the disk room or rights back.
      return { cause: shape.code, reason: `the audit log cannot be written (${code})`, recover: null };
    }
  }

  /**
   * The registry's gate. AUDIT_BUSY while another process holds the log (the CLI meets it while
   * the app is open; the app, while a CLI command runs, and it tries again at most once a second
   * on its clock so it takes the log over when that command is done). AUDIT_UNAVAILABLE while the
   * log cannot take the entry, except for the calls declared to run then (verify, recover).
   */
  async gate(channel: string): Promise<void> {
    const declared = this.declarations.get(channel);
    if (!declared || declared.kind === 'not-audited') return;
    await this.opening;
    if (!this.log && this.openError?.code !== 'AUDIT_TAMPERED') {
      if (this.clock().getTime() - this.lastTry >= REOPEN_MS) {
        this.opening = this.open();
        await this.opening;
      }
    }
    // Login, logout and verify run in a process that only reads while another holds the log
    // (the CLI while the app is open); their entries are handed to the holder (handOff).
    if (!this.log && this.heldBy !== null && declared.whenUnavailable !== 'run') throw this.busy();
    await this.adoptHandOffs();
    const problem = await this.unavailable();
    if (!problem || declared.whenUnavailable === 'run') return;
    throw new MkmError(
      'AUDIT_UNAVAILABLE',
      problem.recover
        ? `This action must be recorded and the audit log cannot take it: ${problem.reason}. ${this.wayOut()}`
        : `This action must be recorded and the audit log cannot take it: ${problem.reason}. Free space or fix the permissions of the audit folder; actions resume once it can be written.`,
      { cause: problem.cause, reason: problem.reason, recover: problem.recover },
    );
  }

  record(entry: AuditAppend): void {
    if (this.log && !this.damaged) this.log.append(entry);
    else {
      this.pending.push(entry);
      this.options.logger.info('audit entry held', { action: entry.action, result: entry.result });
    }
  }

  /** The registry's hook: called once per finished call. */
  onCall(channel: string, request: unknown, envelope: Envelope): void {
    const declared = this.declarations.get(channel);
    if (declared?.kind !== 'audited') return;
    const req = (request ?? {}) as Record<string, unknown>;
    try {
      const base = declared.map(req, envelope.ok ? envelope.result : undefined, mapTools);
      this.record({ ...base, result: envelope.ok ? 'ok' : envelope.error.code });
      if (channel === 'tokens.logout' && envelope.ok) this.detachToken();
    } catch (error) {
      this.options.logger.error('could not record an audit entry', { channel, error });
    }
  }

  /** After a login: check the token's audit head, then seal with the pinned audit key. */
  attachToken(tokens: TokensService, slotId: number): Promise<void> {
    const attach = this.attach(tokens, slotId);
    this.attaching = attach.catch(() => {});
    return attach;
  }

  private anchorIo(tokens: TokensService, slotId: number): AnchorIo {
    return {
      read: async () => (await tokens.call('readAppData', { slotId, label: AUDIT_HEAD_LABEL })).values,
      write: async (value) => {
        await tokens.call('writeAppData', { slotId, label: AUDIT_HEAD_LABEL, value });
      },
    };
  }

  /**
   * `checkHead: false` only right after a recovery, whose new segment the old head cannot be
   * found in when the old log was rolled back: the recovery then moves the head onto it.
   */
  private async attach(tokens: TokensService, slotId: number, checkHead = true): Promise<void> {
    await this.opening;
    const slot = (await tokens.slots()).find((s) => s.slotId === slotId);
    if (!slot?.token) return;
    const io = this.anchorIo(tokens, slotId);
    let head: AuditHead | null = null;
    let problem: string | null = null;
    try {
      head = await readAnchor(io, this.options.dir);
    } catch (error) {
      problem = String((toErrorShape(error).details as { reason?: unknown } | undefined)?.reason ?? error);
    }
    // The head first: sealing a rolled-back log would move the token's head onto it.
    if (this.log && head && checkHead) {
      await this.log.flush().catch(() => undefined);
      problem = await checkAnchor(this.options.dir, head);
    }
    const refused = problem !== null && (checkHead || !head);
    // Marked before the key is looked up, so a pin entry is held for the next segment.
    if (refused) this.markDamaged(problem!);
    const found = await this.auditKey(tokens, slotId, head?.key ?? null);
    this.actorToken = { serial: slot.token.serial.trim(), label: slot.token.label.trim() };
    // A reading process whose log pins no key on this token seals nothing and checks no seal.
    if (found === null) {
      if (refused) throw new MkmError('AUDIT_ROLLED_BACK', undefined, { reason: problem! });
      return;
    }
    this.pinnedAtLogin = await this.pinnedKeys();
    if (!('id' in found)) {
      // Said in the log, the status, the dashboard and verify, every time: never a quiet gap.
      this.noSeal(found.impossible);
      this.log?.setActor({ token: this.actorToken });
      if (refused) throw new MkmError('AUDIT_ROLLED_BACK', undefined, { reason: problem! });
      return;
    }
    const key = found;
    this.sealImpossible = null;
    this.attached = { tokens, slotId, key };
    if (refused) throw new MkmError('AUDIT_ROLLED_BACK', undefined, { reason: problem! });
    this.sealer = this.tokenSealer(tokens, slotId, key, io);
    if (this.damaged) return;
    this.log?.setActor({ token: this.actorToken });
    this.log?.setSealer(this.sealer);
    this.options.events.emit('state.changed', { what: 'seal' });
    // Seal what came before the login now: the token's head is current when the login returns.
    await this.log
      ?.seal()
      .catch((error: unknown) =>
        this.options.logger.warn('the first seal after the login failed', { error }),
      );
    await this.options.seals
      .sealWrittenWhileLoggedOut()
      .catch((error: unknown) =>
        this.options.logger.warn('a state file written before the login could not be sealed', { error }),
      );
  }

  private tokenSealer(
    tokens: TokensService,
    slotId: number,
    key: AuditKeyHandle,
    io?: AnchorIo,
  ): AuditSealer {
    const kind = sealKindOf(key);
    let publicPem: Promise<string> | null = null;
    const sealer = createTokenSealer({
      keyRef: key,
      call: async (_op, id, data) => {
        const macs: string[] = [];
        for (const d of data) {
          if (kind === 'rsa-pss') {
            const r = await tokens.call('sign', { slotId, id, mechanism: 'SHA256_RSA_PKCS_PSS', data: d });
            macs.push(r.signature);
          } else {
            const mechanism = kind === 'cmac' ? 'AES_CMAC' : 'SHA256_HMAC';
            macs.push((await tokens.call('hmacSign', { slotId, id, data: d, mechanism })).mac);
          }
        }
        return macs;
      },
      ...(kind === 'rsa-pss'
        ? {
            // The public half as the token holds it, whose fingerprint the log pinned (the KCV).
            verify: async (message: Buffer, signature: Buffer) => {
              publicPem ??= publicKeyOf(tokens, slotId, key);
              const pem = await publicPem;
              return createVerify('sha256')
                .update(message)
                .verify({ key: pem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature);
            },
          }
        : {}),
    });
    if (!io) return sealer;
    const dir = this.options.dir;
    return { ...sealer, recordHead: (head) => writeAnchor(io, dir, head) };
  }

  /**
   * The audit key to seal with: the newest key the log pins that is on this token with the
   * pinned KCV; else, while the log pins none on this token, the key the token's head names
   * (a new segment after a recovery), the one key carrying the label (pinned now), or a new
   * one of the best kind the token can make (SEAL_KINDS). Several unpinned candidates are
   * refused rather than guessed. `{ impossible }` says why no kind of audit key can be made.
   */
  private async auditKey(
    tokens: TokensService,
    slotId: number,
    headKey: AuditKeyHandle | null,
    fresh = false,
  ): Promise<AuditKeyHandle | { impossible: string } | null> {
    // Another process holds the log (this one only reads): a key is used to check seals, never
    // pinned or made here, where its entry could not be written.
    const readOnly = !this.log && this.heldBy !== null;
    const pinned = await this.pinnedKeys();
    const objects = await tokens.call('listObjects', { slotId });
    const candidates = fresh ? [] : [...pinned].reverse();
    const fromHead = !fresh && headKey && !pinned.some((k) => sameKey(k, headKey)) ? headKey : null;
    for (const pin of fromHead ? [...candidates, fromHead] : candidates) {
      const object = objects.find(
        (o) => o.id.toLowerCase() === pin.id && o.class === SEAL_KEY_CLASS[sealKindOf(pin)],
      );
      if (!object) continue;
      const kcv = await auditKcv(tokens, slotId, object.id, sealKindOf(pin));
      if (kcv !== pin.kcv) continue;
      if (pin === fromHead && !readOnly) this.record(pinEntry('audit.key.pin', pin));
      return withKind(pin.id, pin.kcv, sealKindOf(pin));
    }
    if (readOnly) return null;
    const labelled = fresh
      ? []
      : objects.filter(
          (o) =>
            o.label === AUDIT_KEY_LABEL &&
            o.usages.includes('sign') &&
            (o.class === 'secret' || (o.class === 'private' && o.keyType === 'rsa')),
        );
    if (labelled.length > 1) {
      throw new MkmError(
        'AUDIT_KEY_RESERVED',
        'The token holds several audit keys and the log pins none of them.',
        {
          ids: labelled.map((o) => o.id),
        },
      );
    }
    if (labelled.length === 1) {
      const o = labelled[0]!;
      const kind: SealKind = o.class === 'private' ? 'rsa-pss' : o.keyType === 'aes' ? 'cmac' : 'hmac';
      const id = o.id.toLowerCase();
      const key = withKind(id, await auditKcv(tokens, slotId, id, kind), kind);
      this.record(pinEntry('audit.key.pin', key));
      return key;
    }
    const refusals: string[] = [];
    for (const kind of SEAL_KINDS) {
      const made = await this.makeAuditKey(tokens, slotId, kind).catch((error: unknown) => {
        const shape = toErrorShape(error);
        if (TOKEN_GONE.has(shape.code)) throw error;
        refusals.push(`${SEAL_KIND_WORDS[kind]}: ${shape.message} (${shape.code})`);
        return null;
      });
      if (!made) continue;
      this.record({
        ...pinEntry('audit.key.generate', made.key),
        details: {
          ...(made.key.kind ? { sealKind: made.key.kind } : {}),
          ...(refusals.length ? { notPossible: refusals } : {}),
          ...(made.widerUsage.length ? { widerUsage: made.widerUsage } : {}),
          ...(pinned.length ? { replaces: pinned.map((p) => p.id) } : {}),
        },
      });
      return made.key;
    }
    return { impossible: `the token cannot make an audit key of any kind: ${refusals.join('; ')}` };
  }

  /**
   * One audit key of `kind`, tried before it is kept: a token may make a key it then will not
   * seal with. An RSA key is kept with the usage the token insists on (tpm2-pkcs11 adds decrypt),
   * which the audit.key.generate entry records; it only ever seals.
   */
  private async makeAuditKey(
    tokens: TokensService,
    slotId: number,
    kind: SealKind,
  ): Promise<{ key: AuditKeyHandle; widerUsage: string[] }> {
    const made = await tokens.call('generateKey', {
      slotId,
      type: SEAL_KEY_TYPE[kind],
      label: AUDIT_KEY_LABEL,
      purpose: 'audit',
      ...(kind === 'rsa-pss' ? { acceptWiderUsage: true } : {}),
    });
    const id = made.id.toLowerCase();
    try {
      const kcv = kind === 'rsa-pss' ? made.spkiSha256!.slice(0, 16) : made.kcv!.kcv.toLowerCase();
      const key = withKind(id, kcv, kind);
      const sealer = this.tokenSealer(tokens, slotId, key);
      const probe = [Buffer.from('mkm-audit-seal|probe', 'utf8')];
      const ok = await sealer.verifyBatch!(probe, await sealer.macBatch(probe));
      if (ok[0] !== true)
        throw new MkmError('SIGNATURE_INVALID', 'The new audit key does not check its own seal.');
      return { key, widerUsage: made.widerUsage ?? [] };
    } catch (error) {
      for (const o of made.objects) {
        await tokens
          .call('destroyObject', { slotId, id, class: o.class, confirm: true })
          .catch(() => undefined);
      }
      throw error;
    }
  }

  /**
   * A new audit key (its crypto-period is over, or it is suspected): made on the logged-in
   * token and pinned in the log; the old one stays on the token, pinned and protected, so the
   * seals it made still verify. Everything so far is sealed with the old key first.
   */
  async replaceKey(): Promise<{ key: AuditKeyHandle; replaced: AuditKeyHandle }> {
    await this.attaching;
    const attached = this.attached;
    if (!attached || !this.sealer)
      throw new MkmError('NOT_LOGGED_IN', 'Log in to the token to replace its audit key.');
    if (!this.log || this.damaged) throw new MkmError('AUDIT_UNAVAILABLE');
    await this.log.seal();
    const found = await this.auditKey(attached.tokens, attached.slotId, null, true);
    if (!found) throw new MkmError('AUDIT_UNAVAILABLE');
    if (!('id' in found))
      throw new MkmError('CAPABILITY_MISSING', found.impossible, { capability: 'auditSeal' });
    const key = found;
    this.pinnedAtLogin = [...this.pinnedAtLogin, key];
    const io = this.anchorIo(attached.tokens, attached.slotId);
    this.attached = { ...attached, key };
    this.sealer = this.tokenSealer(attached.tokens, attached.slotId, key, io);
    this.log.setSealer(this.sealer);
    await this.log.seal();
    return { key, replaced: attached.key };
  }

  /** The audit keys the log names (audit.key.generate / audit.key.pin), oldest first. */
  async pinnedKeys(): Promise<AuditKeyHandle[]> {
    await this.log?.flush().catch(() => undefined);
    const keys: AuditKeyHandle[] = [];
    const path = join(this.options.dir, LOG_FILE);
    await readLines(path, {
      onLine(line) {
        // Cheap filter first: most lines are not about the audit key.
        if (!line.includes('"action":"audit.key.')) return;
        const record = parseLine(line.toString('utf8'));
        if (typeof record === 'string' || record.type !== 'entry' || record.result !== 'ok') return;
        if (record.action !== 'audit.key.generate' && record.action !== 'audit.key.pin') return;
        if (!record.key?.kcv) return;
        const sealKind = record.details?.sealKind;
        const kind = SEAL_KINDS.find((k) => k !== 'hmac' && k === sealKind) ?? 'hmac';
        const key = withKind(record.key.id, record.key.kcv, kind);
        if (!keys.some((k) => sameKey(k, key))) keys.push(key);
      },
    }).catch(() => undefined);
    return keys;
  }

  /**
   * keys.destroy's guard: the audit keys the log pins (and one carrying the label) seal the
   * trail and verify its older seals, and the head object anchors it; none is destroyed via mkm.
   */
  async refuseDestroy(object: { id: string; label: string; class: string }): Promise<void> {
    const id = object.id.toLowerCase();
    const keyClass = object.class === 'secret' || object.class === 'private' || object.class === 'public';
    const pinned = keyClass && (await this.pinnedKeys()).some((k) => k.id === id);
    if (
      pinned ||
      (keyClass && object.label === AUDIT_KEY_LABEL) ||
      (object.class === 'data' && object.label === AUDIT_HEAD_LABEL)
    ) {
      throw new MkmError('AUDIT_KEY_PROTECTED', undefined, { id: object.id, label: object.label });
    }
  }

  private markDamaged(reason: string): void {
    const first = this.damaged === null;
    this.damaged = reason;
    this.sealer = null;
    this.log?.setSealer(null, { record: false });
    if (!first) return;
    this.options.logger.error('the audit log does not match the token head', { reason });
    setImmediate(() =>
      this.options.events.emit('app.notice', {
        level: 'error',
        code: 'AUDIT_ROLLED_BACK',
        message: `The audit log was rolled back or replaced: ${reason}. ${this.wayOut()}`,
      }),
    );
  }

  detachToken(): void {
    this.sealImpossible = null;
    this.sealer = null;
    this.attached = null;
    this.actorToken = null;
    this.log?.setSealer(null);
    this.log?.setActor({ token: null });
    this.options.events.emit('state.changed', { what: 'seal' });
  }

  /**
   * Sealing stopped working (the code) or works again (null): recorded, since entries now stay
   * unsealed, and announced, so no screen keeps saying they are sealed.
   */
  private sealResult(error: ErrorCode | null): void {
    const unsealed = this.log?.status().unsealed ?? 0;
    if (error) {
      this.options.logger.warn('audit sealing failed', { code: error, unsealed });
      this.record({ action: 'audit.seal.failed', result: error, details: { unsealed } });
    } else {
      this.record({ action: 'audit.seal.resumed', result: 'ok' });
    }
    this.options.events.emit('state.changed', { what: 'seal' });
  }

  /** What seals the log now: the audit key's kind, or why the logged-in token cannot seal. */
  private sealState(): {
    kind: SealKind | null;
    method: string | null;
    impossible: string | null;
    summary: string;
  } {
    const key = this.sealer ? this.attached?.key : undefined;
    const kind = key ? sealKindOf(key) : null;
    const method = kind ? SEAL_KIND_WORDS[kind] : null;
    const summary = this.sealImpossible
      ? `Not sealed: ${this.sealImpossible}.`
      : method
        ? `Sealed on the token (${method}).`
        : 'Not sealing: new entries are sealed after the next login.';
    return { kind, method, impossible: this.sealImpossible, summary };
  }

  /** The logged-in token cannot seal: recorded, logged and announced, never a quiet gap. */
  private noSeal(reason: string): void {
    this.sealImpossible = reason;
    this.sealer = null;
    this.attached = null;
    this.record({ action: 'audit.seal.impossible', result: 'AUDIT_SEAL_IMPOSSIBLE', details: { reason } });
    this.options.logger.error('the audit log cannot be sealed on this token', { reason });
    setImmediate(() =>
      this.options.events.emit('app.notice', {
        level: 'error',
        code: 'AUDIT_SEAL_IMPOSSIBLE',
        message: `The audit log is NOT sealed: ${reason}. Entries are recorded and chained, but nothing on the token vouches for them.`,
      }),
    );
  }

  status() {
    const shown =
      this.damaged !== null
        ? { cause: 'AUDIT_ROLLED_BACK', reason: this.damaged, recoverable: true }
        : !this.log && this.openError && this.heldBy === null
          ? {
              cause: this.openError.code,
              reason: this.openError.message,
              // As unavailable() decides: a disk error is not made better by moving the log aside.
              recoverable: this.openError.code !== 'IO_ERROR',
            }
          : this.log?.status().writeError
            ? {
                cause: 'IO_ERROR',
                reason: `the audit log cannot be written (${this.log.status().writeError})`,
                recoverable: false,
              }
            : null;
    return {
      open: this.log !== null,
      error: this.openError?.code ?? null,
      held: this.pending.length,
      sealing: this.sealer !== null,
      seal: this.sealState(),
      sealError: (this.sealer && this.log?.status().lastSealError) || null,
      unavailable: shown,
      ...(this.log ? { log: this.log.status() } : {}),
    };
  }

  /**
   * Verifies with every audit key the log pins that is on the logged-in token, and checks the
   * token's head: a log behind it is reported as rolled back.
   */
  async verify(): Promise<VerifyReport> {
    await this.opening;
    // A login that is still fetching the audit key would otherwise verify without it.
    await this.attaching;
    await this.log?.flush().catch(() => undefined);
    const attached = this.attached;
    const pinned = await this.pinnedKeys();
    const sealers: AuditSealer[] = [];
    if (attached) {
      const objects = await attached.tokens.call('listObjects', { slotId: attached.slotId });
      for (const pin of pinned) {
        const kind = sealKindOf(pin);
        if (!objects.some((o) => o.id.toLowerCase() === pin.id && o.class === SEAL_KEY_CLASS[kind])) continue;
        const kcv = await auditKcv(attached.tokens, attached.slotId, pin.id, kind);
        if (kcv === pin.kcv) sealers.push(this.tokenSealer(attached.tokens, attached.slotId, pin));
      }
      if (!sealers.some((s) => sameKey(s.keyRef, attached.key)))
        sealers.push(this.tokenSealer(attached.tokens, attached.slotId, attached.key));
    }
    const verified = this.log
      ? await this.log.verify(sealers, pinned)
      : await verifyAuditLog({ dir: this.options.dir, sealer: sealers, pinned });
    const seal = this.sealState();
    const report = {
      ...verified,
      ...(seal.method ? { sealedWith: seal.method } : {}),
      ...(seal.impossible ? { noSeal: seal.impossible } : {}),
    };
    if (!attached) return report;
    let problem: string | null = null;
    try {
      const head = await readAnchor(this.anchorIo(attached.tokens, attached.slotId), this.options.dir);
      problem = head ? await checkAnchor(this.options.dir, head) : null;
    } catch (error) {
      problem = String((toErrorShape(error).details as { reason?: unknown } | undefined)?.reason ?? error);
    }
    if (!problem) return report;
    return {
      ...report,
      ok: false,
      firstBad: { seq: 0, line: 0, kind: 'rollback', reason: problem },
    };
  }

  /**
   * The way out of a damaged log: verify it, move it aside untouched (AuditLog.quarantine), and
   * open a new segment whose audit.start names the folder, the reason and the old log's head.
   * Refused while another process holds the log, and when the log is intact.
   */
  async recover(): Promise<AuditRecoverResult> {
    await this.opening;
    await this.attaching;
    if (!this.log && this.heldBy !== null) throw this.busy();
    const problem = await this.unavailable();
    const report = await this.verify().catch((error: unknown) => {
      this.options.logger.warn('verify before recovery failed', { error });
      return null;
    });
    if (!problem && report?.ok) {
      throw new MkmError('AUDIT_INTACT', undefined, { entries: report.entries, seals: report.seals });
    }
    if (problem && !problem.recover) {
      throw new MkmError('AUDIT_UNAVAILABLE', `${problem.reason}: moving the log aside would not help.`, {
        cause: problem.cause,
        reason: problem.reason,
        recover: null,
      });
    }
    const reason = report?.firstBad?.reason ?? problem?.reason ?? 'the audit log could not be verified';
    const old = this.log;
    this.log = null;
    if (old) {
      // Quietly: sealing the damaged log would move the token's head onto it.
      await old
        .close({ quiet: true })
        .catch((error: unknown) =>
          this.options.logger.warn('the damaged audit log did not close cleanly', { error }),
        );
    }
    const movedTo = await AuditLog.quarantine(this.options.dir, reason, this.clock);
    this.damaged = null;
    this.openError = null;
    this.failedBefore = false;
    this.opening = this.open();
    await this.opening;
    const reopened = this.log as AuditLog | null;
    const failed = this.openError as MkmErrorShape | null;
    if (!reopened) throw new MkmError(failed?.code ?? 'IO_ERROR', failed?.message);
    const start = reopened.openReport.quarantine;
    this.options.logger.warn('the audit log was quarantined and a new segment started', { movedTo });
    const attached = this.attached;
    if (attached) {
      // The admin is logged in: pin the key in the new segment and seal it now, which moves
      // the token's head onto it (the old head may name a seal the damaged log lost).
      await this.attach(attached.tokens, attached.slotId, false);
      await reopened.seal();
    }
    return {
      movedTo,
      reason,
      oldHead: start?.head ? { seq: start.head.seq, hash: start.head.hash, lines: start.head.lines } : null,
      verified: { ok: report?.ok ?? false, sealsVerified: report?.sealsVerified ?? false },
    };
  }

  async query(filter: AuditFilter, limit: number) {
    await this.opening;
    await this.log?.flush().catch(() => undefined);
    return queryAuditLog({ dir: this.options.dir, filter, limit, newestFirst: true });
  }

  async export(format: 'json' | 'csv', filter: AuditFilter = {}): Promise<string> {
    await this.opening;
    await this.log?.flush().catch(() => undefined);
    return format === 'json'
      ? exportJson({ dir: this.options.dir, filter })
      : exportCsv({ dir: this.options.dir, filter });
  }

  async close(): Promise<void> {
    await this.attaching;
    // Seals of state files written just before the close need the token that is still up.
    await this.options.seals.settled();
    if (this.options.seals.inUse() === this.stateSealer) this.options.seals.use(null);
    await this.opening;
    await this.adoptHandOffs();
    if (!this.log && this.heldBy !== null && this.pending.length > 0) {
      // This process only read: what it did anyway (a login, a verify) goes to the log's holder.
      const actor = { osUser: currentOsUser(), token: this.actorToken };
      try {
        handOff(
          this.options.dir,
          processRole(),
          this.pending.splice(0).map((e) => ({ actor, ...e })),
        );
      } catch (error) {
        this.options.logger.error('audit entries could not be handed to the process holding the log', {
          error,
        });
      }
    }
    // A log behind the token's head is not sealed again (that would move the head onto it).
    await this.log?.close(this.damaged ? { quiet: true } : {});
  }
}

/** Which audit key each seal kind is, and which object of it seals. */
const SEAL_KEY_TYPE = { hmac: 'hmac-256', cmac: 'aes-256', 'rsa-pss': 'rsa-2048' } as const;
const SEAL_KEY_CLASS = { hmac: 'secret', cmac: 'secret', 'rsa-pss': 'private' } as const;

/** A token that went away or logged out is not one that cannot make the key: said as it is. */
const TOKEN_GONE = new Set([
  'NOT_LOGGED_IN',
  'TOKEN_NOT_PRESENT',
  'TOKEN_REMOVED',
  'TOKEN_CONNECTION_LOST',
  'SESSION_CLOSED',
  'TOKEN_BUSY',
  'TIMEOUT',
]);

function withKind(id: string, kcv: string, kind: SealKind): AuditKeyHandle {
  return kind === 'hmac' ? { id, kcv } : { id, kcv, kind };
}

function pinEntry(action: 'audit.key.pin' | 'audit.key.generate', key: AuditKeyHandle): AuditAppend {
  return {
    action,
    result: 'ok',
    key: { id: key.id, kcv: key.kcv },
    ...(key.kind ? { details: { sealKind: key.kind } } : {}),
  };
}

/** The KCV an audit key is pinned by: the token's KCV of a MAC key, the SPKI fingerprint of an RSA key. */
async function auditKcv(tokens: TokensService, slotId: number, id: string, kind: SealKind): Promise<string> {
  if (kind === 'rsa-pss') {
    const pub = await tokens.call('exportPublicKey', { slotId, id, format: 'pem' });
    return pub.spkiSha256.slice(0, 16).toLowerCase();
  }
  return (await tokens.call('kcv', { slotId, id })).kcv.toLowerCase();
}

/** The RSA audit key's public half, checked against the fingerprint the log pinned. */
async function publicKeyOf(tokens: TokensService, slotId: number, key: AuditKeyHandle): Promise<string> {
  const pub = await tokens.call('exportPublicKey', { slotId, id: key.id, format: 'pem' });
  if (pub.spkiSha256.slice(0, 16).toLowerCase() !== key.kcv) {
    throw new MkmError('KCV_MISMATCH', 'The audit key on the token is not the one the log pinned.', {
      id: key.id,
    });
  }
  return pub.pem!;
}
