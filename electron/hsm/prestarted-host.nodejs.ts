import type { Logger } from '../core/logger.nodejs';
import { createNodeHostSpawner } from './node-spawner.nodejs';
import type { HostExit, HostHandle, HostSpawner } from './spawner.std';

/**
 * A token host forked before anyone asks for it. A CLI command that will talk to the token
 * otherwise pays the host's start (a second Node and its bundle, half of `mkm tokens`) after
 * its own; forked first, the two start side by side. The host does nothing until main sends it
 * a library to load, so main still identifies the library (real path, SHA-256) before the host
 * loads it, exactly as for a host forked later; a host no command takes is killed unused.
 */
export interface PrestartedHost {
  /**
   * For `AppOptions.hostSpawnerFor`: the first spawn for this very environment takes the
   * prestarted process (a restart after a crash forks anew); another environment (the demo
   * token's) always forks its own.
   */
  spawnerFor(env: NodeJS.ProcessEnv, logger?: Logger): HostSpawner;
  /** Kills the prestarted process if nothing took it. */
  dispose(): void;
}

export type SpawnWithLogger = (env: NodeJS.ProcessEnv, logger?: Logger) => HostHandle;

const forkHost: SpawnWithLogger = (env, logger) =>
  createNodeHostSpawner({ env, ...(logger ? { logger } : {}) }).spawn();

export function prestartHost(env: NodeJS.ProcessEnv = process.env, spawn = forkHost): PrestartedHost {
  const log = deferredLogger();
  let waiting: HostHandle | null = buffered(spawn(env, log.logger));
  return {
    spawnerFor(forEnv, logger) {
      return {
        spawn() {
          const handle = forEnv === env ? waiting : null;
          if (!handle) return spawn(forEnv, logger);
          waiting = null;
          if (logger) log.attach(logger);
          return handle;
        },
      };
    },
    dispose() {
      waiting?.kill();
      waiting = null;
    },
  };
}

/**
 * The host says `ready` as soon as it starts, before any client listens: its messages wait
 * here for the first listener instead of being dropped.
 */
function buffered(handle: HostHandle): HostHandle {
  const held: unknown[] = [];
  let listener: ((raw: unknown) => void) | null = null;
  handle.onMessage((raw) => (listener ? listener(raw) : held.push(raw)));
  return {
    get pid() {
      return handle.pid;
    },
    send: (message) => handle.send(message),
    onMessage(l) {
      listener = l;
      for (const raw of held.splice(0)) l(raw);
    },
    onExit: (l: (exit: HostExit) => void) => handle.onExit(l),
    kill: () => handle.kill(),
    recentOutput: () => handle.recentOutput?.() ?? [],
  };
}

/** A logger whose lines wait for the real one (known only once the app is composed). */
function deferredLogger(): { logger: Logger; attach(target: Logger): void } {
  let target: Logger | null = null;
  const held: ((to: Logger) => void)[] = [];
  const make = (path: Record<string, unknown>[]): Logger => {
    const at = (to: Logger) => path.reduce((l, bindings) => l.child(bindings), to);
    const level =
      (name: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
        const write = (to: Logger) => at(to)[name](message, fields);
        if (target) write(target);
        else held.push(write);
      };
    return {
      debug: level('debug'),
      info: level('info'),
      warn: level('warn'),
      error: level('error'),
      child: (bindings) => make([...path, bindings]),
    };
  };
  return {
    logger: make([]),
    attach(to) {
      target = to;
      for (const write of held.splice(0)) write(to);
    },
  };
}
