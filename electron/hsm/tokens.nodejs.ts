import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dataPaths } from '../core/paths.nodejs';
import type { Settings } from '../../shared/contract.std';
import type { ModuleState } from '../../shared/contract/tokens.std';
import { MkmError, toErrorShape, type MkmErrorShape } from '../../shared/errors.std';
import type { AuditAppend } from '../audit/audit-log.nodejs';
import type { Logger } from '../core/logger.nodejs';
import type { ModuleChoice } from '../core/store.nodejs';
import type { EventBus } from '../core/registry.nodejs';
import { HsmClient, type CallOptions } from './client.nodejs';
import { DEMO_LABEL, demoTokenAvailable, ensureDemoToken } from './demo-token.nodejs';
import type { HsmMethodName, HsmParams, HsmResult } from './host/protocol.std';
import { createNodeHostSpawner } from './node-spawner.nodejs';
import type { HostSpawner } from './spawner.std';
import {
  CAPABILITY_NAMES,
  type CapabilitiesResult,
  type ModuleInfo,
  type SlotSummary,
  type WellKnownModule,
} from '../../shared/tokens.std';
import { TokenOperations } from './operations.nodejs';
import { identifyLibrary, type LibraryIdentity } from './module-identity.nodejs';
import { wellKnownModules } from './pkcs11/well-known-modules.nodejs';

/**
 * Main's token domain: which PKCS#11 library is in use, the host process that runs it, and the
 * events the UI hears (token inserted or removed, connection lost, logged out). Every PKCS#11
 * call goes through the host; this class never loads a vendor library itself.
 */
export interface TokensServiceOptions {
  dataDir: string;
  logger: Logger;
  events: EventBus;
  settings: { get(): Settings; update(patch: Partial<Settings>): Settings };
  /** Where the chosen library is remembered (the store's `module`); in memory when absent. */
  moduleChoice?: { get(): ModuleChoice | null; set(choice: ModuleChoice | null): void };
  packaged: boolean;
  /** CLI --module: a path, or "demo". The user's own shell named it: it is loaded as given. */
  moduleOverride?: string | undefined;
  /**
   * CLI --module-params (or MKM_MODULE_PARAMS): the library's initialisation parameters. Without
   * it, an override naming the library chosen in the settings keeps that library's parameters.
   */
  moduleParametersOverride?: string | undefined;
  /** Libraries named when browser mode was started (--module, MKM_MODULE): a page may pick them. */
  launchModules?: readonly string[];
  /** Electron's main-side open dialog; absent where there is none (browser mode, CLI). */
  pickLibraryFile?: () => Promise<string | null>;
  /** Every library load lands here, with the library's real path and SHA-256. */
  record?: (entry: AuditAppend) => void;
  /** Electron passes a utilityProcess spawner; Node modes fork a child. */
  spawnerFor?: (env: NodeJS.ProcessEnv, logger: Logger) => HostSpawner;
  /** Poll for inserted and removed tokens (the UI wants it; the CLI does not). */
  watchSlots?: boolean;
}

interface Choice {
  source: ModuleState['source'];
  path: string | null;
  libraryParameters?: string | undefined;
  demo: boolean;
  env: NodeJS.ProcessEnv;
  /** A remembered library main may no longer load (see ModuleChoice `migrated`). */
  refused?: MkmError;
}

/** Many payloads for one key, as encryptMany and encryptManyTokenIvs take them. */
export interface BulkEncryptRequest {
  slotId: number;
  id: string;
  mechanism: 'AES_CBC_PAD' | 'AES_CBC' | 'RSA_OAEP_SHA1' | 'RSA_OAEP_SHA256' | 'RSA_PKCS';
  data: Uint8Array[];
  /** AES only: one per payload. */
  ivs?: Uint8Array[];
  /** Payloads per host call (1 to 100,000; 1,000 when not given). */
  chunk?: number;
  onProgress?: (done: number, total: number) => void;
}

export class TokensService {
  private client: HsmClient | null = null;
  private clientChoice: Choice | null = null;
  private starting: Promise<HsmClient> | null = null;
  private moduleInfo: ModuleInfo | null = null;
  private moduleError: MkmErrorShape | null = null;
  private readonly capabilityFile: string;
  private capabilityCache: Record<string, CapabilitiesResult>;
  private stopWatching: (() => void) | null = null;
  private readonly lostListeners = new Set<() => void>();

  /** Libraries the admin picked in the main-side dialog during this run. */
  private readonly picked = new Set<string>();
  private memoryChoice: ModuleChoice | null = null;
  private readonly moduleChoice: { get(): ModuleChoice | null; set(choice: ModuleChoice | null): void };

  /** Which operation each token call belongs to: what waits on the token, and cancelling it. */
  readonly operations: TokenOperations;

  constructor(private readonly options: TokensServiceOptions) {
    this.operations = new TokenOperations(options.events);
    this.capabilityFile = join(options.dataDir, 'capabilities.json');
    this.capabilityCache = this.readCapabilityCache();
    this.moduleChoice = options.moduleChoice ?? {
      get: () => this.memoryChoice,
      set: (choice) => (this.memoryChoice = choice),
    };
  }

  /** The launch-named libraries, as the page sees them beside the well-known ones. */
  private launchModules(): WellKnownModule[] {
    return (this.options.launchModules ?? []).map((path) => ({
      name: 'Named when browser mode started',
      vendor: 'your command line',
      path: resolve(path),
    }));
  }

  /** How main knows a path a page asked for, or null when it does not (never loaded then). */
  private knownAs(path: string): ModuleChoice['via'] | null {
    const wanted = resolve(path);
    if (wellKnownModules().some((m) => m.path === wanted)) return 'well-known';
    if (this.launchModules().some((m) => m.path === wanted)) return 'launch';
    if (this.picked.has(wanted)) return 'dialog';
    return null;
  }

  private demoDir(): string {
    return dataPaths(this.options.dataDir).demoToken;
  }

  private demoAllowed(): boolean {
    return demoTokenAvailable() && (!this.options.packaged || this.options.settings.get().confirmDemoToken);
  }

  /** `prepareDemo` false: only say what would be used, without making the demo token. */
  private choose(prepareDemo = true): Choice {
    const override = this.options.moduleOverride;
    const paramsOverride = this.options.moduleParametersOverride || undefined;
    const remembered = this.moduleChoice.get();
    if (override && override !== 'demo') {
      // The parameters belong to the library: --module naming the chosen library keeps them.
      const kept = remembered?.path === override ? (remembered.parameters ?? undefined) : undefined;
      const libraryParameters = paramsOverride ?? kept;
      return { source: 'override', path: override, libraryParameters, demo: false, env: process.env };
    }
    if (!override && remembered) {
      if (remembered.via === 'migrated' && this.knownAs(remembered.path) === null) {
        return {
          source: 'none',
          path: null,
          demo: false,
          env: process.env,
          refused: new MkmError(
            'MODULE_NOT_ALLOWED',
            `The PKCS#11 library ${remembered.path} was chosen before mkm checked where libraries come from; choose it again (Browse… in the desktop app, or --module when starting browser mode).`,
            { path: remembered.path },
          ),
        };
      }
      return {
        source: 'settings',
        path: remembered.path,
        libraryParameters: paramsOverride ?? remembered.parameters ?? undefined,
        demo: false,
        env: process.env,
      };
    }
    if (override === 'demo' || this.demoAllowed()) {
      if (!prepareDemo) return { source: 'demo', path: null, demo: true, env: process.env };
      const demo = ensureDemoToken(this.demoDir());
      return { source: 'demo', path: demo.modulePath, demo: true, env: demo.env };
    }
    return { source: 'none', path: null, demo: false, env: process.env };
  }

  private closed = false;

  /** The running host client for the current choice; restarted when the choice changed. */
  async hsm(): Promise<HsmClient> {
    if (this.closed) throw new MkmError('TOKEN_CONNECTION_LOST', 'The app is shutting down.');
    if (this.starting) return this.starting;
    const choice = this.choose();
    if (this.client && this.clientChoice && sameChoice(this.clientChoice, choice)) return this.client;
    this.starting = this.startClient(choice).finally(() => (this.starting = null));
    return this.starting;
  }

  /**
   * Transactional: the new library is loaded in a host of its own and answers its slot list
   * before the running one is let go. A library that fails (not PKCS#11, a broken init) leaves
   * the running library, its host and its logins exactly as they were.
   */
  private async startClient(choice: Choice): Promise<HsmClient> {
    if (choice.refused) throw choice.refused;
    if (!choice.path) {
      await this.letGo('library-changed');
      throw new MkmError('NO_MODULE', 'No PKCS#11 library is chosen. Pick your token’s library in Tokens.');
    }
    // Pin the file: its real path is what is hashed, audited and loaded.
    let identity: LibraryIdentity;
    try {
      identity = await identifyLibrary(choice.path);
    } catch (error) {
      this.refuseLoad(choice, null, error);
      throw error;
    }
    const settings = this.options.settings.get();
    const spawner =
      this.options.spawnerFor?.(choice.env, this.options.logger) ??
      createNodeHostSpawner({ env: choice.env, logger: this.options.logger });
    const client = new HsmClient({
      spawner,
      logger: this.options.logger,
      idleLogoutMs: settings.idleLogoutMinutes * 60_000,
    });
    let info: ModuleInfo;
    try {
      await client.start();
      info = await client.call('loadModule', {
        path: identity.realPath,
        ...(choice.libraryParameters ? { libraryParameters: choice.libraryParameters } : {}),
      });
      // Checked before anything is let go: a library that loads but cannot list its slots is
      // no better than one that does not load.
      await client.call('listSlots', {});
    } catch (error) {
      // A host without a working library is not kept: every later call would answer NO_MODULE
      // instead of the library's own failure.
      client.removeAllListeners();
      await client.stop().catch(() => undefined);
      this.refuseLoad(choice, identity, error);
      throw error;
    }
    await this.letGo('library-changed');
    this.wire(client);
    this.client = client;
    this.clientChoice = choice;
    this.moduleInfo = info;
    this.moduleError = null;
    this.options.logger.info('PKCS#11 module loaded', {
      path: identity.realPath,
      sha256: identity.sha256,
      demo: choice.demo,
    });
    this.recordLoad(choice, identity, null);
    this.options.events.emit('state.changed', { what: 'library' });
    if (this.options.watchSlots) this.stopWatching = client.watchSlots({ intervalMs: 1000 });
    return client;
  }

  /** A library that did not load: recorded; the state shows the failure only when none runs. */
  private refuseLoad(choice: Choice, identity: LibraryIdentity | null, error: unknown): void {
    this.recordLoad(choice, identity, error);
    if (!this.client) {
      this.moduleInfo = null;
      this.moduleError = toErrorShape(error);
      this.options.events.emit('state.changed', { what: 'library' });
    }
  }

  /**
   * Stops the running host. Its logins end with it: recorded as a logout (no one asked for it
   * on the logout channel) and announced, and whoever holds a login (the audit sealer) is told.
   */
  private async letGo(reason: 'library-changed'): Promise<void> {
    const client = this.client;
    if (!client) return;
    const slotIds = client.loggedInSlots;
    await this.stopClient();
    if (slotIds.length === 0) return;
    for (const listener of this.lostListeners) listener();
    this.options.record?.({ action: 'token.logout', result: 'ok', details: { slotIds, reason } });
    this.options.events.emit('tokens.loggedOut', { slotIds, reason });
    this.options.events.emit('state.changed', { what: 'login' });
  }

  private recordLoad(choice: Choice, identity: LibraryIdentity | null, error: unknown, reload = false): void {
    this.options.record?.({
      action: 'token.module.load',
      result: error ? toErrorShape(error).code : 'ok',
      details: {
        reload,
        source: choice.source,
        demo: choice.demo,
        requested: choice.path,
        path: identity?.realPath ?? null,
        // The library file's SHA-256 (named so the audit keeps it whole, like a key fingerprint).
        fingerprint: identity?.sha256 ?? null,
        bytes: identity?.bytes ?? null,
      },
    });
  }

  private wire(client: HsmClient): void {
    const { events, logger } = this.options;
    client.on('slots-changed', (change) => {
      if (change.initial) return;
      events.emit('tokens.changed', {
        inserted: change.added.map(describeSlot),
        removed: change.removed.map(describeSlot),
      });
    });
    client.on('connection-lost', (info) => {
      for (const listener of this.lostListeners) listener();
      events.emit('state.changed', { what: 'login' });
      logger.warn('token connection lost', { reason: info.reason, code: info.code, signal: info.signal });
      events.emit('tokens.connection', {
        state: 'lost',
        message: 'The connection to the token was lost. Reconnecting…',
      });
    });
    client.on('connection-restored', (info) => {
      events.emit('tokens.connection', {
        state: info.error ? 'failed' : 'restored',
        message: info.error ? info.error.message : 'Reconnected to the token. Log in again to continue.',
      });
      // The new host loaded the library again: audited like any load (the file as it is now).
      const choice = this.clientChoice;
      if (choice?.path && (info.moduleReloaded || info.error)) {
        identifyLibrary(choice.path)
          .then((identity) =>
            this.recordLoad(choice, identity, info.error ? new MkmError(info.error.code) : null, true),
          )
          .catch((error) => this.recordLoad(choice, null, error, true));
      }
    });
    client.on('login-required', (info) => {
      events.emit('tokens.loggedOut', { slotIds: info.slotIds, reason: 'connection' });
      events.emit('state.changed', { what: 'login' });
    });
    client.on('auto-logout', (info) => {
      events.emit('tokens.loggedOut', { slotIds: info.slotIds, reason: 'idle' });
      events.emit('state.changed', { what: 'login' });
    });
    client.on('gave-up', (error) =>
      events.emit('tokens.connection', { state: 'failed', message: error.message }),
    );
  }

  private async stopClient(): Promise<void> {
    this.stopWatching?.();
    this.stopWatching = null;
    const client = this.client;
    this.client = null;
    this.clientChoice = null;
    if (client) {
      client.removeAllListeners();
      await client.stop();
    }
  }

  /** One typed call into the token host. */
  async call<K extends HsmMethodName>(
    method: K,
    params: HsmParams<K>,
    options?: CallOptions,
  ): Promise<HsmResult<K>> {
    const client = await this.hsm();
    const result = await (client.call as (m: K, p: HsmParams<K>, o?: CallOptions) => Promise<HsmResult<K>>)(
      method,
      params,
      this.operations.callOptions(method, options),
    );
    // Whoever logged in or out (a page, the CLI's services, a test), every view hears it.
    if (LOGIN_METHODS.has(method)) {
      const slotId = (params as { slotId?: number }).slotId;
      this.options.events.emit('state.changed', {
        what: 'login',
        ...(typeof slotId === 'number' ? { slotId } : {}),
      });
    }
    return result;
  }

  async state(): Promise<ModuleState> {
    let choice: Choice | null = null;
    try {
      choice = this.choose();
      if (choice.refused) throw choice.refused;
      if (choice.path) await this.hsm();
    } catch (error) {
      this.moduleError = toErrorShape(error);
    }
    const demo = choice?.demo ?? false;
    return {
      source: choice?.source ?? 'none',
      path: choice?.path ?? null,
      demo,
      demoLabel: demo ? DEMO_LABEL : null,
      demoAvailable: demoTokenAvailable(),
      demoNeedsConsent:
        this.options.packaged && demoTokenAvailable() && !this.options.settings.get().confirmDemoToken,
      info: choice?.path && this.client ? this.moduleInfo : null,
      error: this.moduleError,
      wellKnown: [...wellKnownModules(), ...this.launchModules()],
      canBrowse: this.options.pickLibraryFile !== undefined,
    };
  }

  /**
   * A page chooses among libraries main already knows (well-known, named at launch, picked in
   * this run's dialog) or the demo token; any other path is refused before anything changes.
   */
  async selectModule(request: {
    path: string | null;
    demo?: boolean;
    libraryParameters?: string | null;
  }): Promise<ModuleState> {
    const previous = { settings: this.options.settings.get(), module: this.moduleChoice.get() };
    if (request.demo) {
      this.moduleChoice.set(null);
      this.options.settings.update({ confirmDemoToken: true });
    } else {
      const via = request.path ? this.knownAs(request.path) : null;
      if (!request.path || via === null) {
        throw new MkmError('MODULE_NOT_ALLOWED', undefined, { path: request.path ?? null });
      }
      if (!existsSync(request.path)) {
        throw new MkmError('MODULE_NOT_FOUND', `No file at ${request.path}.`);
      }
      this.moduleChoice.set({
        path: resolve(request.path),
        parameters: request.libraryParameters ?? null,
        via,
      });
    }
    try {
      await this.hsm();
    } catch (error) {
      // A library that does not load is not remembered: the previous choice stays.
      this.moduleChoice.set(previous.module);
      this.options.settings.update({ confirmDemoToken: previous.settings.confirmDemoToken });
      throw error;
    }
    return this.state();
  }

  /** Electron: the admin picks the library file in main's own open dialog, then it is selected. */
  async browseModule(request: { libraryParameters?: string | null }): Promise<ModuleState | null> {
    if (!this.options.pickLibraryFile) throw new MkmError('PICKER_UNAVAILABLE');
    const path = await this.options.pickLibraryFile();
    if (!path) return null;
    this.picked.add(resolve(path));
    return this.selectModule({ path, libraryParameters: request.libraryParameters ?? null });
  }

  /** The remembered library (store), for status lines; null for the demo token or none. */
  chosenModulePath(): string | null {
    if (this.options.moduleOverride && this.options.moduleOverride !== 'demo')
      return this.options.moduleOverride;
    return this.moduleChoice.get()?.path ?? null;
  }

  /** Told when the host dies: every login is gone with it. */
  onConnectionLost(listener: () => void): void {
    this.lostListeners.add(listener);
  }

  /** Auto-logout after this long without token work; applies to the running host at once. */
  setIdleLogout(ms: number): void {
    this.client?.setIdleLogout(ms);
  }

  /**
   * The library in use (or about to be), for `mkm status`: never starts anything, and never
   * returns the parameters themselves (an admin may have put a password in them).
   */
  inUse(): {
    path: string | null;
    source: ModuleState['source'];
    parameters: boolean;
    info: ModuleInfo | null;
  } {
    const choice = this.clientChoice ?? this.choose(false);
    return {
      path: choice.path,
      source: choice.source,
      parameters: choice.libraryParameters !== undefined,
      info: this.clientChoice ? this.moduleInfo : null,
    };
  }

  /** Whether the running host serves the demo token (for labels; never starts anything). */
  demoInUse(): boolean {
    return this.clientChoice?.demo ?? false;
  }

  /**
   * Bulk encryption (batch console, benchmarks): raw bytes in and out, in chunks, with the next
   * chunk on its way while the host works on the current one, so main's copying overlaps the
   * token's work instead of waiting for it.
   */
  async encryptMany(request: BulkEncryptRequest): Promise<Uint8Array[]> {
    return (await this.batchCalls(request, false)).ciphertexts;
  }

  /**
   * AES-CBC of many payloads, each under a fresh IV the token draws: the host calls
   * C_GenerateRandom in the same call as the encryptions, so no IV waits on a round trip to
   * main and back (a request of its own would queue behind the chunk being encrypted). The IVs
   * come back with the ciphertexts, item for item. Chunked and pipelined like encryptMany.
   */
  async encryptManyTokenIvs(
    request: Omit<BulkEncryptRequest, 'mechanism' | 'ivs'> & { mechanism: 'AES_CBC_PAD' | 'AES_CBC' },
  ): Promise<{ ivs: Uint8Array[]; ciphertexts: Uint8Array[] }> {
    return this.batchCalls(request, true);
  }

  private async batchCalls(
    request: BulkEncryptRequest,
    tokenIvs: boolean,
  ): Promise<{ ivs: Uint8Array[]; ciphertexts: Uint8Array[] }> {
    const chunk = Math.max(1, Math.min(request.chunk ?? 1000, 100_000));
    const total = request.data.length;
    const out: Uint8Array[] = new Array(total);
    const ivsOut: Uint8Array[] = tokenIvs ? new Array(total) : [];
    const inFlight: Promise<void>[] = [];
    let done = 0;
    for (let start = 0; start < total; start += chunk) {
      const end = Math.min(start + chunk, total);
      // One buffer per chunk, items as views of it: the channel clones one buffer, not thousands.
      const packed = Buffer.concat(request.data.slice(start, end));
      const packedIvs = request.ivs ? Buffer.concat(request.ivs.slice(start, end)) : null;
      const items = [];
      for (let i = start, at = 0, ivAt = 0; i < end; i++) {
        const len = request.data[i]!.length;
        const data = packed.subarray(at, at + len);
        at += len;
        const ivLen = request.ivs?.[i]?.length ?? 0;
        const iv = packedIvs && ivLen ? packedIvs.subarray(ivAt, ivAt + ivLen) : undefined;
        ivAt += ivLen;
        items.push(iv ? { iv, data } : { data });
      }
      const from = start;
      inFlight.push(
        this.call('encryptBatch', {
          slotId: request.slotId,
          id: request.id,
          mechanism: request.mechanism,
          items,
          output: 'binary',
          ...(tokenIvs ? { tokenIvs: true } : {}),
        }).then((result) => {
          const n = end - from;
          result.items.forEach((item, k) => (out[from + k] = item as Uint8Array));
          if (tokenIvs) {
            const ivs = result.ivs;
            if (!(ivs instanceof Uint8Array) || ivs.length !== n * 16) {
              throw new MkmError('INTERNAL', undefined, { reason: 'the host answered no IVs' });
            }
            for (let k = 0; k < n; k++) ivsOut[from + k] = ivs.subarray(k * 16, k * 16 + 16);
          }
          done += n;
          request.onProgress?.(done, total);
        }),
      );
      // Two chunks in flight: one being encrypted, one being prepared and sent.
      if (inFlight.length >= 2) {
        try {
          await inFlight.shift();
        } catch (error) {
          // The batch fails with the first failure; the chunk still in flight may fail after it,
          // and that rejection must not go unhandled (it would take main down).
          for (const pending of inFlight) pending.catch(() => {});
          throw error;
        }
      }
    }
    await Promise.all(inFlight);
    return { ivs: ivsOut, ciphertexts: out };
  }

  async slots(): Promise<SlotSummary[]> {
    return this.call('listSlots', {});
  }

  async capabilities(slotId: number, refresh = false): Promise<CapabilitiesResult & { cached: boolean }> {
    const known = refresh ? null : await this.knownCapabilities(slotId);
    if (known) return known;
    const result = await this.call('probeCapabilities', { slotId });
    this.capabilityCache[result.cacheKey] = result;
    this.writeCapabilityCache();
    return { ...result, cached: false };
  }

  /** What an earlier probe of this model and firmware found; null when there is none to trust. */
  async knownCapabilities(slotId: number): Promise<(CapabilitiesResult & { cached: true }) | null> {
    const slot = (await this.slots()).find((s) => s.slotId === slotId);
    if (!slot?.token) throw new MkmError('TOKEN_NOT_PRESENT');
    const key = `${slot.token.manufacturer.trim()}|${slot.token.model.trim()}|${slot.token.firmware}`;
    const cached = this.capabilityCache[key];
    // A result without `objects` is from the earlier probe, which tried session objects only and
    // gave raw CKR names, and one without every capability is from before that capability was
    // probed: probe again rather than show what may not hold.
    const complete = cached && CAPABILITY_NAMES.every((n) => cached.capabilities?.[n] !== undefined);
    return cached && complete && cached.objects !== undefined ? { ...cached, cached: true } : null;
  }

  private readCapabilityCache(): Record<string, CapabilitiesResult> {
    try {
      return existsSync(this.capabilityFile) ? JSON.parse(readFileSync(this.capabilityFile, 'utf8')) : {};
    } catch {
      this.options.logger.warn('ignored an unreadable capability cache', { file: this.capabilityFile });
      return {};
    }
  }

  private writeCapabilityCache(): void {
    writeFileSync(this.capabilityFile, JSON.stringify(this.capabilityCache, null, 2), { mode: 0o600 });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.starting?.catch(() => {});
    await this.stopClient();
  }
}

/**
 * Announced as soon as the token answers. A login is announced by the app's login handler once
 * the audit key is attached: refetching every view first would queue heavy reads (a key list of
 * thousands) on the token ahead of the login's own work.
 */
const LOGIN_METHODS: ReadonlySet<HsmMethodName> = new Set(['logout', 'initToken', 'initUserPin']);

function sameChoice(a: Choice, b: Choice): boolean {
  return a.path === b.path && a.demo === b.demo && a.libraryParameters === b.libraryParameters;
}

function describeSlot(slot: SlotSummary) {
  return {
    slotId: slot.slotId,
    label: slot.token?.label.trim() ?? '',
    serial: slot.token?.serial.trim() ?? '',
  };
}
