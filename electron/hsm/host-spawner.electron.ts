import { utilityProcess } from 'electron';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/logger.nodejs';
import { hostEnvironment, type HostExit, type HostHandle, type HostSpawner } from './spawner.std';

export interface ElectronHostSpawnerOptions {
  /** The built host entry; utility processes run plain JS. Default: `defaultBuiltHostEntry()`. */
  hostEntry?: string;
  env?: NodeJS.ProcessEnv;
  /** Extra Node flags, e.g. `['--import', tsxLoaderUrl]` to run the TS source in development. */
  execArgv?: string[];
  logger?: Logger;
}

/**
 * `hsm-host.js` next to the bundled main (`dist-electron/main.js`): the build must emit
 * `electron/hsm/host/host.host.ts` under that name, with pkcs11js external.
 */
export function defaultBuiltHostEntry(): string {
  return fileURLToPath(new URL('./hsm-host.js', import.meta.url));
}

/**
 * The host as an Electron utility process: a Node process that Chromium's process model
 * accounts for (crash reports, `app.getAppMetrics`), and that dies with the app. Only call
 * `spawn` after `app` is ready.
 */
export function createElectronHostSpawner(options: ElectronHostSpawnerOptions = {}): HostSpawner {
  return {
    spawn(): HostHandle {
      const child = utilityProcess.fork(options.hostEntry ?? defaultBuiltHostEntry(), [], {
        serviceName: 'MKM HSM host',
        stdio: 'pipe',
        env: hostEnvironment(options.env ?? process.env),
        ...(options.execArgv ? { execArgv: options.execArgv } : {}),
      });
      const logger = options.logger?.child({ scope: 'hsm-host' });
      for (const [stream, level] of [
        [child.stdout, 'info'],
        [child.stderr, 'warn'],
      ] as const) {
        if (stream)
          createInterface({ input: stream }).on('line', (line) => logger?.[level]('Host output', { line }));
      }

      // `pid` is cleared once the child exits; keep the last one for the kill and the logs.
      let pid: number | undefined;
      child.once('spawn', () => (pid = child.pid));
      let exitListener: ((exit: HostExit) => void) | undefined;
      let exited: HostExit | undefined;
      child.once('exit', (code) => {
        // Electron reports only a code; a signal death shows up as a non-zero code.
        exited = { code, signal: null };
        exitListener?.(exited);
      });

      return {
        get pid() {
          return child.pid ?? pid;
        },
        send: (message) => child.postMessage(message),
        onMessage: (listener) => child.on('message', listener),
        onExit(listener) {
          exitListener = listener;
          if (exited) listener(exited);
        },
        kill() {
          if (exited) return;
          const target = child.pid ?? pid;
          try {
            // utilityProcess.kill() is SIGTERM; a vendor library stuck in a syscall needs SIGKILL.
            if (target !== undefined) process.kill(target, 'SIGKILL');
            else child.kill();
          } catch {
            child.kill();
          }
        },
      };
    },
  };
}
