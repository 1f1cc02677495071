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
