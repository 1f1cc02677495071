/**
 * Entry of the HSM host process: the only process that loads a vendor PKCS#11 library. If that
 * library crashes, hangs or aborts, only this process dies; main notices and starts a new one.
 * Started by `child_process.fork` (Node, browser mode, CLI) or Electron's `utilityProcess.fork`.
 */
import { createLogger, type LogLevel } from '../../core/logger.nodejs';
import { TokenEngine } from '../pkcs11/token-engine.host';
import { createDispatcher, describeUnknown, resolveMethod } from './dispatcher.host';
import { HSM_METHODS, HSM_PROTOCOL_VERSION } from './protocol.std';
import { createTokenLossRefiner } from './token-loss.host';
import { detectTransport } from './transport.host';

const transport = detectTransport();

const logger = createLogger({
  name: 'host',
  level: (process.env.MKM_LOG_LEVEL as LogLevel | undefined) ?? 'info',
  // Main owns the log file and the terminal; records reach it already redacted.
  stderrLevel: 'silent',
  sink: (record) => transport.send({ t: 'event', name: 'log', record }),
});

// A vendor library that leaves the process in an unknown state must not keep serving calls:
// exit, and let main restart a clean host (login state is lost either way).
process.on('uncaughtException', (error) => {
  logger.error('Host crashed', describeUnknown(error));
  process.exit(70);
});
process.on('unhandledRejection', (error) => {
  logger.error('Host crashed on an unhandled rejection', describeUnknown(error));
  process.exit(70);
});

const service = new TokenEngine({ logger: logger.child({ scope: 'token-engine' }) });

let shuttingDown = false;
const shutdown = async (): Promise<void> => {
  if (shuttingDown) return;
  shuttingDown = true;
  await dispatcher.drain();
  const unload = resolveMethod(service, 'unloadModule');
  try {
    // C_Finalize lets a vendor library flush and release the reader before the process ends.
    await unload?.call(service, undefined);
  } catch (error) {
    logger.warn('Unloading the module at shutdown failed', { code: (error as { code?: unknown }).code });
  }
  process.exit(0);
};

const dispatcher = createDispatcher({
  service,
  logger,
  send: (message) => transport.send(message),
  methods: HSM_METHODS,
  onShutdown: () => void shutdown(),
  refineError: createTokenLossRefiner(service),
});

transport.onMessage((raw) => dispatcher.handle(raw));
transport.onDisconnect(() => process.exit(0));
transport.send({ t: 'event', name: 'ready', pid: process.pid, protocol: HSM_PROTOCOL_VERSION });
logger.debug('Host ready', { transport: transport.kind });
