import type { ParentMessage } from './host/protocol.std';

/** How the host ended: a code for a normal exit, a signal for a kill (null when unknown). */
export interface HostExit {
  code: number | null;
  signal: string | null;
}

/** One running host process, whatever started it. */
export interface HostHandle {
  readonly pid: number | undefined;
  /** Throws when the channel is already closed. */
  send(message: ParentMessage): void;
  onMessage(listener: (raw: unknown) => void): void;
  /** Called exactly once, also when the process could not be started at all. */
  onExit(listener: (exit: HostExit) => void): void;
  /** Immediate, unconditional kill (SIGKILL): a hung vendor library ignores anything softer. */
  kill(): void;
  /** The last lines the process printed, to explain a host that died while starting. */
  recentOutput?(): string[];
}

export interface HostSpawner {
  spawn(): HostHandle;
}

/**
 * The host's environment: the caller's, which vendor libraries read (SOFTHSM2_CONF, TPM2TOOLS_TCTI,
 * OPENCRYPTOKI_* and the like), minus NODE_EXTRA_CA_CERTS. Node parses that CA bundle, and its
 * own roots, at start, before any code runs (80 ms on a machine that sets it), and the host
 * never opens a TLS connection: it would pay for nothing on every start and restart.
 */
export function hostEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _unused, ...rest } = env;
  return rest;
}
