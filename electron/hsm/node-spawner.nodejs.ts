import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from '../core/logger.nodejs';
import { hostEnvironment, type HostExit, type HostHandle, type HostSpawner } from './spawner.std';

export interface NodeHostSpawnerOptions {
  /**
   * The host entry. Defaults to the TypeScript source next to this file, run through tsx; a
   * bundled build must pass its built `host.js`, because after bundling this file's URL no
   * longer points into `electron/hsm/host`.
   */
  hostEntry?: string;
  /** Environment of the host; SOFTHSM2_CONF and vendor variables are read there. */
  env?: NodeJS.ProcessEnv;
  /** Where the host's stray stdout/stderr lines (vendor libraries print) are logged. */
  logger?: Logger;
}

/** Defined (true) by scripts/build-cli.mjs in the CLI bundle. */
declare const __MKM_CLI_BUNDLE__: boolean | undefined;

export function defaultHostEntry(): string {
  // Bundled, this file is inlined into dist-cli/, whose chunks all sit beside the bundled host.
  if (typeof __MKM_CLI_BUNDLE__ !== 'undefined')
    return fileURLToPath(new URL('./hsm-host.mjs', import.meta.url));
  return fileURLToPath(new URL('./host/host.host.ts', import.meta.url));
}

// Resolved from this file rather than the working directory, so `mkm` run from any folder works.
function tsxLoaderUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

export function createNodeHostSpawner(options: NodeHostSpawnerOptions = {}): HostSpawner {
  const entry = options.hostEntry ?? defaultHostEntry();
  return {
    spawn(): HostHandle {
      if (!existsSync(entry)) throw new Error(`HSM host entry not found: ${entry}`);
      const child = fork(entry, [], {
        execArgv: entry.endsWith('.ts') ? ['--import', tsxLoaderUrl()] : [],
        // Structured clone, like Electron's utilityProcess: binary results survive as bytes.
        serialization: 'advanced',
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        env: hostEnvironment(options.env ?? process.env),
      });
      const logger = options.logger?.child({ hostPid: child.pid });
      const recent: string[] = [];
      const remember = (line: string) => {
        recent.push(line);
        if (recent.length > 20) recent.shift();
      };
      pipeLines(child.stdout, (line) => {
        remember(line);
        logger?.info('Host stdout', { line });
      });
      pipeLines(child.stderr, (line) => {
        remember(line);
        logger?.warn('Host stderr', { line });
      });

      let exitListener: ((exit: HostExit) => void) | undefined;
      let exited: HostExit | undefined;
      const finish = (exit: HostExit) => {
        if (exited) return;
        exited = exit;
        exitListener?.(exit);
      };
      // 'close' comes once stdout/stderr are drained, so the last words of a crashing host are
      // logged first; a library that left a daemon holding the pipes must not delay it for long.
      child.on('close', (code, signal) => finish({ code, signal }));
      child.on('exit', (code, signal) => setTimeout(() => finish({ code, signal }), 250).unref());
      // A failed spawn emits 'error' and possibly never 'exit'.
      child.on('error', (error) => {
        logger?.warn('Host process error', { error });
        if (child.exitCode === null && child.signalCode === null && child.pid === undefined) {
          finish({ code: null, signal: null });
        }
      });

      return {
        get pid() {
          return child.pid;
        },
        send(message) {
          if (!child.connected) throw new Error('HSM host channel is closed');
          child.send(message);
        },
        onMessage: (listener) => child.on('message', listener),
        onExit(listener) {
          exitListener = listener;
          if (exited) listener(exited);
        },
        kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        },
        recentOutput: () => [...recent],
      };
    },
  };
}

function pipeLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (!stream) return;
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('line', (line) => onLine(line.length > 2000 ? line.slice(0, 2000) + '…' : line));
}
