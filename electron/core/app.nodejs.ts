import pkg from '../../package.json' with { type: 'json' };
import { setProcessRole } from './process-role.nodejs';
import { userInfo } from 'node:os';
import { contract, type AppStatus, type Contract, type Settings } from '../../shared/contract.std';
import { MkmError, toErrorShape } from '../../shared/errors.std';
import { ceremonyInProgress } from '../ceremony/in-progress.nodejs';
import { watchCeremonies } from '../ceremony/watch.nodejs';
import { AppAudit } from '../audit/app-audit.nodejs';
import { StateSeals } from '../audit/state-seal.nodejs';
import { attachAuditAtLogin, auditGuardedKeys, auditHandlers } from '../audit/handlers.nodejs';
import { appHandlers, settingsHandlers } from './handlers.nodejs';
import { createLogger, type Logger } from './logger.nodejs';
import { dataPaths, type DataPaths } from './paths.nodejs';
import { EventBus, Registry, type CallContext, type Handlers, type SenderInfo } from './registry.nodejs';
import { FileHandles, type FileDialogs } from './destination.nodejs';
import { DEFAULT_SETTINGS, openStore, type StoreFactory } from './store.nodejs';
import { keyHandlers, tokenHandlers } from '../hsm/handlers.nodejs';
import type { HostSpawner } from '../hsm/spawner.std';
import { TokensService } from '../hsm/tokens.nodejs';
import { GatewayService } from '../gateway/gateway-service.nodejs';
import type { SecretProvider } from '../gateway/client/profiles.nodejs';
import { GatewayStates } from '../gateway/client/state.nodejs';
import { EmbeddedSandbox } from '../gateway/embedded-sandbox.nodejs';
import { gatewayHandlers } from '../gateway/handlers.nodejs';
import { lifecycleHandlers } from '../lifecycle/handlers.nodejs';
import { KeyLifecycleService, type KeyLifecycleOptions } from '../lifecycle/lifecycle.nodejs';
import { KeyUsageService, type UsageTimers } from '../lifecycle/usage.nodejs';
import { sealCounter } from '../lifecycle/usage-seals.nodejs';
import type { AppServices } from './services.nodejs';

/**
 * The main-process services, composed once per process. Electron main, browser mode and the
 * CLI each build one of these and differ only in how calls reach `registry.dispatch`.
 */
export type Mode = AppStatus['mode'];

export interface AppOptions {
  mode: Mode;
  dataDir: string;
  packaged?: boolean;
  /** Who may call: each transport knows what its own legitimate sender looks like. */
  isTrustedSender: (sender: SenderInfo) => boolean;
  /** Opens a URL in the OS browser; only allow-listed URLs reach it. */
  openExternal?: (url: string) => Promise<void>;
  /** The clock time-based judgements read (a key set expired); tests move it instead of waiting. */
  clock?: () => number;
  storeFactory?: StoreFactory;
  /** CLI --module: a PKCS#11 library path, or "demo". */
  moduleOverride?: string | undefined;
  /** CLI --module-params / MKM_MODULE_PARAMS: the library's initialisation parameters. */
  moduleParametersOverride?: string | undefined;
  /** Browser mode's --module / MKM_MODULE: libraries its page may choose. */
  launchModules?: readonly string[];
  /** Electron's main-side file dialogs; absent in browser mode and the CLI. */
  dialogs?: FileDialogs;
  /** Electron's utilityProcess spawner; Node modes fork a child process. */
  hostSpawnerFor?: (env: NodeJS.ProcessEnv, logger: Logger) => HostSpawner;
  /** Poll for inserted and removed tokens (UIs do, the CLI does not). */
  watchSlots?: boolean;
  logger?: Logger;
  versions?: { electron: string | null; chrome: string | null };
  /** Where gateway passwords are kept (Electron: safeStorage); default MKM_GATEWAY_PASSWORD. */
  gatewaySecrets?: SecretProvider;
  /** How often key use counts are written (default 5 s), and the timer they run on (tests). */
  usageFlushMs?: number;
  usageTimers?: UsageTimers;
  // ceremony-faults: the crash tests' kill points in the ceremony engine; never set in production.
  ceremonyFaults?: (point: string) => void;
}

export interface App {
  registry: Registry<Contract>;
  tokens: TokensService;
  audit: AppAudit;
  events: EventBus;
  logger: Logger;
  paths: DataPaths;
  /** Every use of a key is counted here (see electron/lifecycle/usage.nodejs.ts). */
  usage: KeyUsageService;
  /** The sealed state files (see electron/audit/state-seal.nodejs.ts). */
  seals: StateSeals;
  close(): Promise<void>;
}

export function createApp(options: AppOptions): App {
  const paths = dataPaths(options.dataDir);
  const logger =
    options.logger ??
    createLogger({
      name: options.mode === 'cli' ? 'cli' : 'main',
      file: paths.logFile,
      // The CLI's own one-line errors are its voice on stderr; the log file has the details.
      stderrLevel: options.mode === 'cli' ? 'silent' : 'warn',
    });
  const events = new EventBus(logger);
  const opened = openStore(paths.root, logger, options.storeFactory);
  const store = opened.store;
  const startedAt = new Date().toISOString();
  if (opened.movedAside) {
    // Said once at start-up, and kept in app.status for the status screen.
    setImmediate(() =>
      events.emit('app.notice', {
        level: 'warning',
        code: 'STORE_CORRUPT',
        message: `The settings file was damaged. It was moved to ${opened.movedAside} and ${
          opened.restoredFrom === 'defaults' ? 'the defaults were used' : 'the last good copy was restored'
        }.`,
      }),
    );
  }

  const settings = (): Settings => ({ ...DEFAULT_SETTINGS, ...store.get('settings') });
  // The CLI names itself by its command (mkm.cli.ts); the locks carry it beside the pid.
  if (options.mode !== 'cli')
    setProcessRole(`the Merchant Key Manager app${options.mode === 'browser' ? ' (browser mode)' : ''}`);
  // The sealed state files (pinned gateway keys, trusted signers): the audit trail lends them its
  // key while a token is logged in; every store of such a file gets this one.
  const seals = new StateSeals();
  const audit = new AppAudit({
    dir: paths.audit,
    seals,
    logger,
    events,
    // Seals by the audit key count as its uses. `usage` records into this trail, so it is built
    // below; no seal is made before a login, by when it exists.
    countSeal: (key, operation) => sealCounter(usage)(key, operation),
  });
  audit.record({ action: 'app.start', result: 'ok', details: { mode: options.mode } });
  const tokens = new TokensService({
    dataDir: paths.root,
    logger,
    events,
    packaged: options.packaged ?? false,
    moduleOverride: options.moduleOverride,
    moduleParametersOverride: options.moduleParametersOverride,
    launchModules: options.launchModules ?? [],
    ...(options.dialogs
      ? {
          pickLibraryFile: () =>
            options.dialogs!.open({ title: 'Choose the PKCS#11 library', purpose: 'pkcs11-library' }),
        }
      : {}),
    moduleChoice: {
      get: () => store.get('module') ?? null,
      set: (choice) => store.set('module', choice),
    },
    record: (entry) => audit.record(entry),
    watchSlots: options.watchSlots ?? false,
    settings: {
      get: settings,
      update: (patch) => {
        const next = { ...settings(), ...patch };
        store.set('settings', next);
        return next;
      },
    },
    ...(options.hostSpawnerFor ? { spawnerFor: options.hostSpawnerFor } : {}),
  });
  // Every use of a key, from every path, is counted here (and refused at its use limit).
  const usage = new KeyUsageService({
    inventoryDir: paths.keys,
    audit: (e) => audit.record(e),
    logger,
    slots: () => tokens.slots(),
    ...(options.usageFlushMs !== undefined ? { flushMs: options.usageFlushMs } : {}),
    ...(options.usageTimers ? { timers: options.usageTimers } : {}),
  });
  // The key lifecycle holds a lock on its data folder, one process at a time: it opens on first
  // use, so a CLI command that does not manage keys never competes with a running app for it.
  let lifecycle: KeyLifecycleService | null = null;
  const lifecycleOptions: KeyLifecycleOptions = {
    dir: paths.keys,
    tokens,
    audit: (e) => audit.record(e),
    logger,
    usage,
    // Called later, when a rotation or retirement runs: `gateway` exists by then.
    registerWithGateway: (request) => gateway.registerLifecycleVersion(request),
    retireAtGateway: (request) => gateway.retireLifecycleVersion(request),
  };
  const keyLifecycle = (): KeyLifecycleService => (lifecycle ??= KeyLifecycleService.open(lifecycleOptions));
  // Reads while another process holds the keys: the inventory as last written, never written.
  const keyLifecycleReads = (): KeyLifecycleService =>
    KeyLifecycleService.forReading(lifecycleOptions, keyLifecycle);

  const gateway = new GatewayService({
    dataDir: paths.root,
    tokens,
    record: (entry) => audit.record(entry),
    logger,
    events,
    lifecycle: keyLifecycle,
    usage,
    // Each profile's client state is opened here and nowhere else (the clients, the readers).
    states: new GatewayStates(paths.gateway, seals),
    // An offline key ceremony in progress on this machine: no gateway call leaves it meanwhile.
    http: {
      refuse: () => (ceremonyInProgress(paths.ceremonies) ? new MkmError('CEREMONY_IN_PROGRESS') : null),
    },
    ...(options.gatewaySecrets ? { secrets: options.gatewaySecrets } : {}),
  });
  // The local demo gateway: unpackaged UIs only, started on request (or again at launch when an
  // earlier session made its profile), stopped on close.
  const embeddedSandbox = new EmbeddedSandbox({
    dataDir: paths.root,
    gateway,
    logger,
    available: options.mode !== 'cli' && !(options.packaged ?? false),
  });
  if (embeddedSandbox.status().available && embeddedSandbox.hasProfile()) {
    embeddedSandbox.start().catch((error) => logger.warn('the local demo sandbox did not start', { error }));
  }

  const closers: (() => Promise<void> | void)[] = [];
  // ceremony-faults: a ceremony changed by anyone (a step here, another window, the CLI, a host
  // restart setting components to be entered again) is announced, so no screen shows it stale.
  if (options.mode !== 'cli') {
    closers.push(watchCeremonies(paths.ceremonies, () => events.emit('state.changed', { what: 'ceremony' })));
  }
  const files = new FileHandles();
  const services: AppServices = {
    mode: options.mode,
    packaged: options.packaged ?? false,
    paths,
    logger,
    events,
    settings,
    tokens,
    audit,
    gateway,
    keyLifecycle,
    usage,
    dialogs: options.dialogs,
    ...(options.clock ? { clock: options.clock } : {}),
    files,
    diagnoses: [],
    onClose: (fn) => closers.push(fn),
  };

  const handlers: Handlers<Contract> = {
    app: appHandlers({
      mode: options.mode,
      packaged: options.packaged ?? false,
      versions: options.versions,
      dataDir: paths.root,
      startedAt,
      store: opened,
      tokens,
      logger,
      openExternal: options.openExternal,
    }),
    settings: settingsHandlers({
      settings,
      save: (next) => store.set('settings', next),
      events,
      tokens,
      logger,
    }),
    tokens: tokenHandlers(tokens, {
      events,
      attachAudit: attachAuditAtLogin({ audit, tokens, events, logger }),
      // Rotations and destroys a crash interrupted go on once the token is usable (best effort;
      // the CLI only resumes when it already opened the key inventory).
      resumeKeyWork: () => {
        if (options.mode === 'cli' && !lifecycle) return;
        Promise.resolve()
          .then(() => keyLifecycle().resume())
          .then((report) => {
            if (report.failed.length) logger.warn('some key work could not be resumed', { ...report });
          })
          .catch((error) => logger.warn('the key lifecycle could not resume', { error }));
      },
    }),
    keys: auditGuardedKeys(
      keyHandlers(tokens, { inventoryDir: paths.keys, record: (e) => audit.record(e) }),
      audit,
      tokens,
    ),
    gateway: gatewayHandlers(gateway, embeddedSandbox),
    lifecycle: lifecycleHandlers(keyLifecycle, tokens, usage, keyLifecycleReads),
    audit: auditHandlers(audit),
    // Built on their first call: a CLI command that never reaches them never loads their code.
    console: lazyHandlers('console', async () => {
      const [{ ConsoleService }, { consoleHandlers }] = await Promise.all([
        import('../console/console-service.nodejs'),
        import('../console/console-handlers.nodejs'),
      ]);
      const consoleService = new ConsoleService({
        gateway,
        tokens,
        logger,
        events,
        consoleDir: paths.console,
        usage,
      });
      closers.push(() => consoleService.close());
      return consoleHandlers(services, consoleService);
    }),
    troubleshoot: lazyHandlers('troubleshoot', async () =>
      (await import('../console/troubleshoot-handlers.nodejs')).troubleshootHandlers(services),
    ),
    support: lazyHandlers('support', async () => {
      const [{ SupportService }, { supportHandlers }] = await Promise.all([
        import('../support/support-service.nodejs'),
        import('../support/handlers.nodejs'),
      ]);
      const support = new SupportService({
        sources: {
          mode: options.mode,
          packaged: options.packaged ?? false,
          settings,
          tokens,
          paths,
          audit,
          gateway,
          diagnoses: services.diagnoses,
        },
        logger,
        dataDir: paths.root,
        dialogs: options.dialogs,
      });
      return supportHandlers(support);
    }),
    report: lazyHandlers('report', async () => {
      const [{ ReportService }, { reportHandlers }] = await Promise.all([
        import('../report/report-service.nodejs'),
        import('../report/handlers.nodejs'),
      ]);
      const report = new ReportService({
        mode: options.mode,
        paths,
        keyLifecycle,
        tokens,
        audit,
        gateway,
        usage,
      });
      return reportHandlers(report);
    }),
    exchange: lazyHandlers('exchange', async () => {
      const [{ ExchangeService }, { exchangeHandlers }] = await Promise.all([
        import('../gateway/exchange/exchange-service.nodejs'),
        import('../gateway/exchange/handlers.nodejs'),
      ]);
      const exchange = new ExchangeService({
        dataDir: paths.root,
        seals,
        tokens,
        gateway,
        record: (entry) => audit.record(entry),
        logger: logger.child({ domain: 'exchange' }),
        appVersion: pkg.version,
        usage,
      });
      return exchangeHandlers(exchange);
    }),
    ceremony: lazyHandlers('ceremony', async () => {
      const [
        { CeremonyService },
        { JournalStore },
        { ceremonyHandlers },
        { ceremonyTokenPort },
        { coreSteps },
        { CeremonyComponentStore },
        { componentExecutors, componentsLost },
        { tr31Executors }, // TR-31
        preflight,
        built,
        { CeremonyShareStore, shareExecutors }, // M-of-N shares
      ] = await Promise.all([
        import('../ceremony/ceremony-service.nodejs'),
        import('../ceremony/journal.nodejs'),
        import('../ceremony/handlers.nodejs'),
        import('../ceremony/executors/token-port.nodejs'),
        import('../ceremony/core-steps.nodejs'),
        import('../ceremony/executors/component-store.nodejs'),
        import('../ceremony/executors/component-steps.nodejs'),
        import('../ceremony/executors/tr31-steps.nodejs'), // TR-31
        import('../ceremony/preflight.nodejs'),
        import('./build-hash.nodejs'),
        import('../ceremony/executors/share-steps.nodejs'), // M-of-N shares
      ]);
      // Components are held (as ciphertexts to a session key on the token) in memory only; a
      // host restart destroys that key, so what is held is dropped with it.
      const components = new CeremonyComponentStore(tokens);
      // ceremony-faults: what the lost host took is entered again, said at once (heldLost).
      // M-of-N shares: what share steps hold goes the same way.
      const shares = new CeremonyShareStore();
      tokens.onConnectionLost(() => {
        components.forgetAll();
        shares.forgetAll();
        void ceremonies.heldLost();
      });
      const port = ceremonyTokenPort(tokens, components);
      let hash: string | null = null;
      // The journals hold the participants' passphrase verifiers: sealed with the audit key, as
      // the pinned state files are. The audit trail lent it when it was built; gone only once the
      // app closes, and then no ceremony is run unsealed.
      const sealer = seals.inUse();
      if (!sealer)
        throw new MkmError('INTERNAL', 'The audit trail is closed: ceremony journals cannot be sealed.');
      const ceremonies = new CeremonyService({
        store: new JournalStore(paths.ceremonies),
        sealer,
        token: port,
        audit: { record: (entry) => audit.record(entry) },
        app: {
          version: pkg.version,
          buildHash: async () => (hash ??= built.buildHash(built.runningCodeRoots())),
        },
        executors: {
          ...coreSteps({
            interfaces: () => preflight.connectedInterfaces(),
            token: port.token,
            kcvs: port.kcvs,
          }),
          ...componentExecutors({ tokens, store: components }),
          ...shareExecutors({ tokens, store: components, shares, recordFolder: paths.ceremonies }), // M-of-N shares
          ...tr31Executors({ tokens }), // TR-31
        },
        clock: () => new Date(options.clock ? options.clock() : Date.now()),
        onEnded: (id) => {
          shares.forget(id); // M-of-N shares
          return components.forget(id);
        },
        // ceremony-faults: components a restart lost are entered again; the crash tests' seam.
        lost: componentsLost(components),
        ...(options.ceremonyFaults ? { faults: options.ceremonyFaults } : {}),
      });
      // A ceremony set to enter its components again when the host died is written (sealed) only
      // once an audit key is back: each time sealing comes back, what is still to rewind is.
      closers.push(
        events.subscribe((name, payload) => {
          if (name === 'state.changed' && (payload as { what?: string }).what === 'seal')
            void ceremonies.heldLost();
        }),
      );
      return ceremonyHandlers(ceremonies);
    }),
  };

  const registry = new Registry({
    contract,
    handlers,
    isTrustedSender: options.isTrustedSender,
    logger,
    events,
    onCompleted: (channel, request, envelope) => audit.onCall(channel, request, envelope),
    around: (channel, request, ctx, run) =>
      tokens.operations.run(operationIdOf(request) ?? ctx.callId, channel, run),
    beforeCall: (channel) => audit.gate(channel),
  });
  tokens.onConnectionLost(() => audit.detachToken());
  logger.info('services started', { mode: options.mode, user: userInfo().username });
  return {
    registry,
    tokens,
    audit,
    events,
    logger,
    paths,
    usage,
    seals,
    close: async () => {
      logger.info('closing services');
      for (const close of closers.splice(0)) {
        await Promise.resolve()
          .then(close)
          .catch((error) => logger.warn('a service did not close cleanly', { error }));
      }
      // Key work in flight finishes (and is audited) while the audit log and the token are up.
      await lifecycle
        ?.close()
        .catch((error) => logger.warn('the key lifecycle did not close cleanly', { error }));
      // The last counts, and their audit entry, while the audit log is open.
      try {
        usage.close();
      } catch (error) {
        logger.error('key use counts could not be written at close', { error: toErrorShape(error) });
      }
      // Key sets live in the token as session objects: destroy them while the host is up.
      await gateway.close().catch((error) => logger.warn('the gateway did not close cleanly', { error }));
      await embeddedSandbox.close();
      audit.record({ action: 'app.stop', result: 'ok' });
      // The last seal needs the token: close the audit log while the host is still up.
      await audit.close();
      logger.info('audit log closed');
      // The closing seals were counted after the flush above; seal counts need no audit entry.
      try {
        usage.flush();
      } catch (error) {
        logger.error('audit key use counts could not be written at close', { error: toErrorShape(error) });
      }
      await tokens.close();
      logger.info('token host stopped');
      files.close();
    },
  };
}

/** The renderer's id for an operation's `progress` events, when the request carries one. */
function operationIdOf(request: unknown): string | undefined {
  const id = (request as { operationId?: unknown } | null)?.operationId;
  return typeof id === 'string' ? id : undefined;
}

/**
 * A domain's handlers whose module is imported, and whose factory runs, on the first call; a
 * factory that failed is tried again on the next call (as a restart would).
 */
function lazyHandlers<NS extends keyof Contract>(
  ns: NS,
  load: () => Promise<Handlers<Contract>[NS]>,
): Handlers<Contract>[NS] {
  type Loose = Record<string, (request: unknown, ctx: CallContext) => unknown>;
  let loaded: Promise<Loose> | null = null;
  const methods = Object.keys(contract[ns]).map((method) => {
    const call = async (request: unknown, ctx: CallContext) => {
      loaded ??= load().then(
        (handlers) => handlers as unknown as Loose,
        (error: unknown) => {
          loaded = null;
          throw error;
        },
      );
      return (await loaded)[method]!(request, ctx);
    };
    return [method, call] as const;
  });
  return Object.fromEntries(methods) as unknown as Handlers<Contract>[NS];
}
