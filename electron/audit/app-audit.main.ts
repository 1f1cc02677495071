import { MkmError, toErrorShape, type ErrorCode } from '../../shared/errors.std';
import type { Envelope } from '../../shared/contract-kit.std';
import type { Logger } from '../core/logger.main';
import type { EventBus } from '../core/registry.main';
import type { TokensService } from '../hsm/tokens.main';
import {
  AuditLog,
  currentOsUser,
  exportCsv,
  exportJson,
  queryAuditLog,
  verifyAuditLog,
  type AuditAppend,
  type AuditFilter,
  type AuditSealer,
  type VerifyReport,
} from './audit-log.main';
import { createTokenSealer } from './token-sealer.main';
import { EXCHANGE_AUDITED } from '../gateway/exchange/audit.main';

/**
 * The app's audit trail. Every auditable call through the registry lands here (AUDITED says
 * which, and what of it is recorded: never a PIN or key material). Entries are written at once;
 * after a login, an HMAC key on the token (purpose "audit", label AUDIT_KEY_LABEL, made on first
 * use) seals them, and a logout leaves the newer ones unsealed until the next login.
 */
export const AUDIT_KEY_LABEL = 'mkm-audit-key';

type Mapper = (request: Record<string, unknown>, result: unknown) => Omit<AuditAppend, 'result'>;

const slotOf = (r: Record<string, unknown>) => ({ slotId: r.slotId as number });

/** Which channels are audited, and what is kept of each call. */
export const AUDITED: Record<string, Mapper> = {
  'tokens.selectModule': (r) => ({
    action: 'token.module.select',
    details: { path: r.path, demo: r.demo ?? false },
  }),
  // The load itself is recorded by the tokens service (token.module.load: real path, SHA-256).
  'tokens.browseModule': (_r, res) => ({
    action: 'token.module.browse',
    details: { path: (res as { path?: string | null } | null | undefined)?.path ?? null },
  }),
  'tokens.login': (r) => ({
    action: 'token.login',
    details: { ...slotOf(r), userType: r.userType ?? 'user', pinPad: r.pin === undefined },
  }),
  'tokens.logout': (r) => ({ action: 'token.logout', details: slotOf(r) }),
  'tokens.changePin': (r) => ({ action: 'token.pin.change', details: slotOf(r) }),
  'tokens.initToken': (r) => ({ action: 'token.init', details: { ...slotOf(r), label: r.label } }),
  'tokens.initUserPin': (r) => ({ action: 'token.pin.init', details: slotOf(r) }),
  'keys.generate': (r, res) => {
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
  },
  'keys.destroy': (r) => ({
    action: 'key.destroy',
    key: { id: String(r.id) },
    details: { ...slotOf(r), class: r.class },
  }),
  'keys.exportPublic': (r, res) => ({
    action: 'key.export.public',
    key: {
      id: String(r.id),
      ...((res as { spkiSha256?: string })?.spkiSha256
        ? { fingerprint: (res as { spkiSha256: string }).spkiSha256 }
        : {}),
    },
    details: { ...slotOf(r), format: r.format },
  }),
  'keys.csr': (r) => ({ action: 'key.csr', key: { id: String(r.id) }, details: slotOf(r) }),
  'gateway.addProfile': (r, res) => ({
    action: 'gateway.profile.add',
    details: {
      profileId: (res as { id?: string } | undefined)?.id ?? r.id ?? null,
      baseUrl: r.baseUrl,
      username: r.username,
      tlsPin: r.tlsPinSha256 ?? null,
      // The variable's name only: which environment variable may serve this profile's password.
      passwordEnv: r.passwordEnv ?? null,
    },
  }),
  'gateway.removeProfile': (r) => ({ action: 'gateway.profile.remove', details: { profileId: r.profileId } }),
  // Where the password is kept, never the password.
  'gateway.setPassword': (r, res) => ({
    action: 'gateway.profile.password',
    details: { profileId: r.profileId, kept: (res as { kept?: string } | undefined)?.kept ?? null },
  }),
  'gateway.startEmbeddedSandbox': (_r, res) => ({
    action: 'gateway.sandbox.start',
    details: { url: (res as { url?: string | null } | undefined)?.url ?? null },
  }),
  // The payload console: which fields and keys, never a value (card data is in the request).
  'console.encrypt': (r, res) => {
    const e = res as { scheme?: string; key?: { spkiSha256: string; keyId: string | null } } | undefined;
    return {
      action: 'console.encrypt',
      details: {
        profileId: r.profileId,
        scheme: e?.scheme ?? r.scheme ?? null,
        fields: Object.keys((r.fields ?? {}) as object),
        gatewayKeyId: e?.key?.keyId ?? null,
        fingerprint: e?.key?.spkiSha256 ?? null,
      },
    };
  },
  'console.verify': (r, res) => {
    const v = res as
      { cse?: { ok: boolean } | null; secure?: { ok: boolean; setId?: string } | null } | undefined;
    return {
      action: 'console.verify',
      details: {
        profileId: r.profileId,
        fields: Object.keys((r.fields ?? {}) as object),
        cseOk: v?.cse ? v.cse.ok : null,
        secureOk: v?.secure ? v.secure.ok : null,
        setId: v?.secure?.setId ?? null,
      },
    };
  },
  'console.encryptMessage': (r, res) => ({
    action: 'console.message.encrypt',
    details: { profileId: r.profileId, setId: (res as { setId?: string } | undefined)?.setId ?? null },
  }),
  'console.decryptMessage': (r) => ({
    action: 'console.message.decrypt',
    details: {
      profileId: r.profileId,
      setId: (r.envelope as { set_id?: string } | undefined)?.set_id ?? null,
    },
  }),
  'console.batchStart': (r, res) => {
    const b = res as
      | {
          operationId: string;
          status: string;
          rows: number;
          encrypted: number;
          failed: number;
          keyFingerprint: string | null;
        }
      | undefined;
    return {
      action: 'console.batch',
      ...(r.keyId ? { key: { id: String(r.keyId) } } : {}),
      details: {
        scheme: r.scheme,
        profileId: r.profileId ?? null,
        inPath: r.inPath ?? null,
        outPath: r.outPath ?? null,
        // A page's batch: the input it handed over and where the output went (dialog, download).
        input: r.input ?? null,
        output: r.output ?? null,
        outputPath: (res as { outputPath?: string } | undefined)?.outputPath ?? null,
        operationId: b?.operationId ?? r.operationId ?? null,
        status: b?.status ?? null,
        rows: b?.rows ?? null,
        encrypted: b?.encrypted ?? null,
        failed: b?.failed ?? null,
        fingerprint: b?.keyFingerprint ?? null,
      },
    };
  },
  // What a page handed to main or took from it: names and sizes, never the content.
  'console.batchPickInput': (_r, res) => ({
    action: 'console.batch.input.pick',
    details: { name: (res as { name?: string } | null | undefined)?.name ?? null },
  }),
  'console.batchUpload': (r, res) => ({
    action: 'console.batch.input.upload',
    details: { name: r.name, bytes: (res as { bytes?: number } | undefined)?.bytes ?? null },
  }),
  'console.batchDownload': (r, res) => ({
    action: 'console.batch.download',
    details: { fileId: r.fileId, fileName: (res as { fileName?: string } | undefined)?.fileName ?? null },
  }),
  'settings.update': (r) => ({ action: 'settings.update', details: { fields: Object.keys(r) } }),
  'audit.export': (r) => ({ action: 'audit.export', details: { format: r.format } }),
  'report.exportPci': (r, res) => ({
    action: 'report.pci.export',
    details: {
      format: r.format,
      summary: (res as { summary?: Record<string, number> } | undefined)?.summary ?? null,
    },
  }),
  'report.acknowledge': (r, res) => ({
    action: 'report.custodian.acknowledge',
    details: {
      custodianId: (res as { id?: string } | undefined)?.id ?? null,
      name: r.name,
      role: r.role,
      textVersion: r.textVersion,
    },
  }),
  'report.revokeCustodian': (r, res) => ({
    action: 'report.custodian.revoke',
    details: { custodianId: r.id, name: (res as { name?: string } | undefined)?.name ?? null },
  }),
  // Diagnosing decrypts with token keys and may ask the sandbox's verify oracle: who, when, what
  // kind and which findings; never the pasted input.
  'troubleshoot.diagnose': (r, res) => {
    const d = res as { kind?: string; findings?: { code: string }[] } | undefined;
    return {
      action: 'console.diagnose',
      details: {
        profileId: r.profileId ?? null,
        kind: d?.kind ?? null,
        codes: d?.findings?.map((f) => f.code) ?? [],
      },
    };
  },
  // The app's download is made from the preview, so a preview is an export too.
  'support.preview': (_r, res) => ({
    action: 'support.bundle.preview',
    details: { sha256: (res as { sha256?: string } | undefined)?.sha256 ?? null },
  }),
  'support.write': (r, res) => ({
    action: 'support.bundle.write',
    details: {
      outPath: (res as { outPath?: string } | undefined)?.outPath ?? r.outPath ?? null,
      overwrite: r.overwrite ?? false,
      sha256: (res as { sha256?: string } | undefined)?.sha256 ?? null,
    },
  }),
  'audit.verify': (_r, res) => ({
    action: 'audit.verify',
    details: { ok: (res as VerifyReport | undefined)?.ok ?? false },
  }),
  ...EXCHANGE_AUDITED,
};

/**
 * Channels whose services write their own audit entries (the gateway's and the key lifecycle's
 * steps) rather than through AUDITED: they need the log just as much.
 */
export const RECORDS_ITSELF: ReadonlySet<string> = new Set([
  'gateway.registerTransportKey',
  'gateway.fetchKey',
  'gateway.importKeyPem',
  'gateway.confirmKeyRotation',
  'gateway.fetchSigningKey',
  'gateway.importSigningKeyPem',
  'gateway.confirmSigningKeyRotation',
  'gateway.ping',
  'gateway.sync',
  'lifecycle.create',
  'lifecycle.rotate',
  'lifecycle.compromise',
  'lifecycle.destroy',
  'lifecycle.deactivate',
  'lifecycle.suspend',
  'lifecycle.reactivate',
  'lifecycle.adopt',
]);

export interface AppAuditOptions {
  dir: string;
  logger: Logger;
  events: EventBus;
  clock?: () => Date;
}

export class AppAudit {
  private log: AuditLog | null = null;
  private readonly pending: AuditAppend[] = [];
  private openError: ErrorCode | null = null;
  private opening: Promise<void>;
  /** Who holds the log's lock when another process does (CONFLICT at open). */
  private heldBy: number | null = null;
  private lastTry = 0;
  private failedBefore = false;
  private actorToken: { serial: string; label: string } | null = null;
  private sealer: AuditSealer | null = null;
  private attaching: Promise<void> = Promise.resolve();

  constructor(private readonly options: AppAuditOptions) {
    this.opening = this.open();
  }

  private async open(): Promise<void> {
    try {
      this.log = await AuditLog.open({
        dir: this.options.dir,
        actor: { osUser: currentOsUser(), token: null },
        logger: this.options.logger,
        ...(this.options.clock ? { clock: this.options.clock } : {}),
      });
      // Opened late (another process held it): take on the token a login already attached.
      if (this.sealer) this.log.setSealer(this.sealer);
      if (this.actorToken) this.log.setActor({ token: this.actorToken });
      for (const entry of this.pending.splice(0)) this.log.append(entry);
      this.openError = null;
      this.heldBy = null;
    } catch (error) {
      const shape = toErrorShape(error);
      this.openError = shape.code;
      this.lastTry = Date.now();
      const pid = (shape.details as { pid?: unknown } | undefined)?.pid;
      this.heldBy = shape.code === 'CONFLICT' ? (typeof pid === 'number' ? pid : 0) : null;
      // Said once; the gate's later tries are quiet.
      if (this.failedBefore) return;
      this.failedBefore = true;
      this.options.logger.error('the audit log could not be opened', { error });
      // Entries are kept in memory (and in the redacted app log) until an admin deals with it.
      setImmediate(() =>
        this.options.events.emit('app.notice', {
          level: 'error',
          code: shape.code,
          message: `The audit log could not be opened: ${shape.message} New entries are held until it is repaired.`,
        }),
      );
    }
  }

  ready(): Promise<void> {
    return this.opening;
  }

  /**
   * The registry's gate: an auditable call is refused (AUDIT_BUSY) while another process holds
   * the log, instead of running with its entry held in memory and lost when this process ends.
   * The CLI meets this while the app is open; the app, while a CLI command runs, and it tries
   * the lock again (at most once a second) so it takes the log over once that command is done.
   */
  async gate(channel: string): Promise<void> {
    if (!AUDITED[channel] && !RECORDS_ITSELF.has(channel)) return;
    await this.opening;
    if (this.log || this.heldBy === null) return;
    if (Date.now() - this.lastTry >= 1000) {
      this.opening = this.open();
      await this.opening;
      if (this.log) return;
    }
    if (this.heldBy === null) return;
    throw new MkmError('AUDIT_BUSY', undefined, this.heldBy ? { pid: this.heldBy } : undefined);
  }

  record(entry: AuditAppend): void {
    if (this.log) this.log.append(entry);
    else {
      this.pending.push(entry);
      this.options.logger.info('audit entry held', { action: entry.action, result: entry.result });
    }
  }

  /** The registry's hook: called once per finished call. */
  onCall(channel: string, request: unknown, envelope: Envelope): void {
    const mapper = AUDITED[channel];
    if (!mapper) return;
    const req = (request ?? {}) as Record<string, unknown>;
    try {
      const base = mapper(req, envelope.ok ? envelope.result : undefined);
      this.record({ ...base, result: envelope.ok ? 'ok' : envelope.error.code });
      if (channel === 'tokens.logout' && envelope.ok) this.detachToken();
    } catch (error) {
      this.options.logger.error('could not record an audit entry', { channel, error });
    }
  }

  /** After a login: seal with the token's audit key, making it on first use. */
  attachToken(tokens: TokensService, slotId: number): Promise<void> {
    const attach = this.attach(tokens, slotId);
    this.attaching = attach.catch(() => {});
    return attach;
  }

  private async attach(tokens: TokensService, slotId: number): Promise<void> {
    await this.opening;
    const slot = (await tokens.slots()).find((s) => s.slotId === slotId);
    if (!slot?.token) return;
    const objects = await tokens.call('listObjects', { slotId, class: 'secret' });
    let key = objects.find((o) => o.label === AUDIT_KEY_LABEL && o.usages.includes('sign'));
    let kcv: string;
    if (!key) {
      const made = await tokens.call('generateKey', {
        slotId,
        type: 'hmac-256',
        label: AUDIT_KEY_LABEL,
        purpose: 'audit',
      });
      key = made.objects[0]!;
      kcv = made.kcv!.kcv;
      this.record({ action: 'audit.key.generate', result: 'ok', key: { id: made.id, kcv } });
    } else {
      kcv = (await tokens.call('kcv', { slotId, id: key.id })).kcv;
    }
    const keyId = key.id;
    this.sealer = createTokenSealer({
      keyRef: { id: keyId, kcv },
      call: async (_op, id, data) => {
        const macs: string[] = [];
        for (const d of data) macs.push((await tokens.call('hmacSign', { slotId, id, data: d })).mac);
        return macs;
      },
    });
    this.actorToken = { serial: slot.token.serial.trim(), label: slot.token.label.trim() };
    this.log?.setActor({ token: this.actorToken });
    this.log?.setSealer(this.sealer);
  }

  detachToken(): void {
    this.sealer = null;
    this.actorToken = null;
    this.log?.setSealer(null);
    this.log?.setActor({ token: null });
  }

  status() {
    return {
      open: this.log !== null,
      error: this.openError,
      held: this.pending.length,
      sealing: this.sealer !== null,
      ...(this.log ? { log: this.log.status() } : {}),
    };
  }

  async verify(): Promise<VerifyReport> {
    await this.opening;
    // A login that is still fetching the audit key would otherwise verify without it.
    await this.attaching;
    if (this.log) {
      await this.log.flush();
      return this.log.verify();
    }
    return verifyAuditLog({ dir: this.options.dir, sealer: this.sealer });
  }

  async query(filter: AuditFilter, limit: number) {
    await this.opening;
    await this.log?.flush();
    return queryAuditLog({ dir: this.options.dir, filter, limit, newestFirst: true });
  }

  async export(format: 'json' | 'csv', filter: AuditFilter = {}): Promise<string> {
    await this.opening;
    await this.log?.flush();
    return format === 'json'
      ? exportJson({ dir: this.options.dir, filter })
      : exportCsv({ dir: this.options.dir, filter });
  }

  async close(): Promise<void> {
    await this.opening;
    await this.attaching;
    await this.log?.close();
  }
}

export function requireOpen(audit: AppAudit): void {
  if (!audit.status().open) throw new MkmError('AUDIT_TAMPERED', 'The audit log is not open.');
}
