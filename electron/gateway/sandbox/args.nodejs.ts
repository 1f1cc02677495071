import type { SandboxOptions, SandboxUser } from './server.nodejs';

/**
 * Command-line arguments of `npm run sandbox`. Pure, so the parsing is unit-tested without a
 * process; every error is one sentence for the one-line message the CLI prints.
 */
export class UsageError extends Error {}

export const USAGE =
  'usage: npm run sandbox -- --port PORT --data-dir DIR [--user NAME:PASSWORD ...] [--set-ttl SECONDS] ' +
  '[--token-ttl SECONDS] [--verify-rate-limit N/SECONDS] [--padding pkcs1|oaep] [--fault-timeout SECONDS]';

function positiveInt(flag: string, value: string, min = 1, max = 31_536_000): number {
  if (!/^\d+$/.test(value))
    throw new UsageError(`${flag} needs a whole number, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`${flag} must be between ${min} and ${max}`);
  return n;
}

export type ParsedArgs = { help: true } | { help: false; options: SandboxOptions };

export function parseSandboxArgs(argv: string[]): ParsedArgs {
  const users: SandboxUser[] = [];
  const options: Partial<SandboxOptions> = {};
  const args = argv.flatMap((a) =>
    /^--[a-z-]+=/.test(a) ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a],
  );
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    if (flag === '--help' || flag === '-h') return { help: true };
    const value = args[i + 1];
    if (!flag.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(flag)}`);
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    i++;
    switch (flag) {
      case '--port':
        options.port = positiveInt(flag, value, 0, 65535);
        break;
      case '--data-dir':
        if (value.trim() === '') throw new UsageError('--data-dir needs a folder');
        options.dataDir = value;
        break;
      case '--user': {
        const colon = value.indexOf(':');
        if (colon <= 0 || colon === value.length - 1) throw new UsageError('--user needs NAME:PASSWORD');
        const name = value.slice(0, colon);
        if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) {
          throw new UsageError('--user name may use letters, digits and . _ @ - (at most 64)');
        }
        if (users.some((u) => u.name === name)) throw new UsageError(`--user ${name} is given twice`);
        users.push({ name, password: value.slice(colon + 1) });
        break;
      }
      case '--set-ttl':
        options.setTtlSeconds = positiveInt(flag, value);
        break;
      case '--token-ttl':
        options.tokenTtlSeconds = positiveInt(flag, value);
        break;
      case '--fault-timeout':
        options.faultTimeoutMs = positiveInt(flag, value, 1, 3600) * 1000;
        break;
      case '--verify-rate-limit': {
        const m = /^(\d+)\/(\d+)$/.exec(value);
        if (!m) throw new UsageError('--verify-rate-limit needs N/SECONDS, e.g. 60/60');
        options.verifyRateLimit = {
          max: positiveInt(flag, m[1]!, 1, 1_000_000),
          windowSeconds: positiveInt(flag, m[2]!, 1, 86_400),
        };
        break;
      }
      case '--padding':
        if (value === 'pkcs1') options.publicKeyPadding = 'RSAES-PKCS1-V1_5';
        else if (value === 'oaep') options.publicKeyPadding = 'RSAES-OAEP-SHA256';
        else throw new UsageError('--padding must be pkcs1 or oaep');
        break;
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  if (options.port === undefined) throw new UsageError('--port is required (0 picks a free port)');
  if (options.dataDir === undefined) throw new UsageError('--data-dir is required');
  return { help: false, options: { ...options, port: options.port, dataDir: options.dataDir, users } };
}
