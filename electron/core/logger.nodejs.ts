import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { redact, redactString } from '../../shared/redact.std';

/**
 * One logger for main, the HSM host and the CLI. Every record goes through `redact` before it
 * is formatted, so a caller cannot forget: a PIN passed as a field, a PAN inside a message or
 * a key inside an error's stack never reaches the file or the terminal.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** Process role shown on each line: main, host, cli, sandbox. */
  name: string;
  /** JSON Lines file; its folder is created. */
  file?: string;
  level?: LogLevel;
  /** Also write human-readable lines to stderr at or above this level. */
  stderrLevel?: LogLevel | 'silent';
  /** Extra sink, e.g. the host process forwarding to main. Receives redacted records. */
  sink?: (record: LogRecord) => void;
}

export interface LogRecord {
  time: string;
  level: LogLevel;
  name: string;
  pid: number;
  msg: string;
  [field: string]: unknown;
}

export function createLogger(options: LoggerOptions, bindings: Record<string, unknown> = {}): Logger {
  const level = RANK[options.level ?? (process.env.MKM_LOG_LEVEL as LogLevel | undefined) ?? 'info'] ?? 20;
  const stderrLevel = options.stderrLevel === 'silent' ? Infinity : RANK[options.stderrLevel ?? 'warn'];
  if (options.file) mkdirSync(dirname(options.file), { recursive: true });

  const write = (lvl: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < level && RANK[lvl] < stderrLevel) return;
    const safeFields = redact({ ...bindings, ...fields }) as Record<string, unknown>;
    const record: LogRecord = {
      time: new Date().toISOString(),
      level: lvl,
      name: options.name,
      pid: process.pid,
      msg: redactString(message),
      ...safeFields,
    };
    const line = JSON.stringify(record);
    if (RANK[lvl] >= level) {
      if (options.file) {
        try {
          // Sync append: a log line must survive the crash it describes. Lines are small, so
          // O_APPEND keeps concurrent writers (main and host) from interleaving.
          appendFileSync(options.file, line + '\n', { mode: 0o600 });
        } catch {
          // A full disk must not take the app down with it.
        }
      }
      options.sink?.(record);
    }
    if (RANK[lvl] >= stderrLevel) {
      const extra = Object.keys(safeFields).length ? ' ' + JSON.stringify(safeFields) : '';
      process.stderr.write(`[${options.name}] ${lvl}: ${record.msg}${extra}\n`);
    }
  };

  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (more) => createLogger(options, { ...bindings, ...more }),
  };
}

/** For unit tests and code that must log nowhere. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
