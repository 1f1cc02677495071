import { groupFingerprint } from '../../../shared/formats/fingerprint.std';
import { createLogger } from '../../core/logger.nodejs';
import { join, resolve } from 'node:path';
import { USAGE, UsageError, parseSandboxArgs } from './args.nodejs';
import { startSandbox } from './server.nodejs';

/**
 * `npm run sandbox -- --port PORT --data-dir DIR ...`. Stdout carries exactly one line, the
 * listening line, so scripts can read URL and pin from it; everything else goes to stderr.
 */
async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseSandboxArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`sandbox: ${err.message} (try --help)\n`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const options = parsed.options;
  const dataDir = resolve(options.dataDir);
  const logger = createLogger({ name: 'sandbox', file: join(dataDir, 'sandbox.log'), stderrLevel: 'warn' });
  let handle;
  try {
    handle = await startSandbox({ ...options, dataDir, logger });
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    process.stderr.write(`sandbox: cannot start: ${message}\n`);
    return 1;
  }
  if (handle.demoUser)
    process.stderr.write('sandbox: no --user given; user demo with password demo is ready\n');
  // What its operator reads out to a merchant confirming a first pin (stderr: stdout is one line).
  const fp = handle.fingerprints();
  process.stderr.write(
    `sandbox: key fingerprints for a first pin: encryption sha256:${groupFingerprint(fp.encryption)}; signing sha256:${groupFingerprint(fp.signing)}\n`,
  );
  process.stdout.write(`sandbox gateway listening on ${handle.url} pin sha256:${handle.pin}\n`);

  await new Promise<void>((done) => {
    const stop = () => void handle.close().then(done, done);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sandbox: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
    process.exit(1);
  },
);
