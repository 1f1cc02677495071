import { fileURLToPath } from 'node:url';
import { prestartHost, type PrestartedHost } from '../../hsm/prestarted-host.nodejs';
import { commandNameOf, commandUsesToken } from '../argv.std';
import { loadBundle } from '../../core/code-cache.nodejs';

/**
 * dist-cli/mkm.mjs, what bin/mkm.mjs imports `main` from (scripts/build-cli.mjs builds it beside
 * mkm.cjs, the CLI itself). A command that uses the token forks its host here, before the CLI's
 * bundle is read and compiled: the host's own start then runs beside all of it, not after it.
 */

type Main = (argv: string[], prestarted?: PrestartedHost | null) => Promise<number>;

const argv = process.argv.slice(2);
const host = commandUsesToken(argv) ? prestartHost() : null;
let run: Main;
try {
  run = loadBundle(fileURLToPath(new URL('./mkm.cjs', import.meta.url)), { variant: commandNameOf(argv) })
    .exports.main as Main;
} catch (error) {
  // A forked host holds this process open: it goes with the failure.
  host?.dispose();
  throw error;
}

/** The host forked above serves the command it was forked for; any other is left to decide. */
export function main(args: string[]): Promise<number> {
  const same = args.length === argv.length && args.every((a, i) => a === argv[i]);
  if (!same) host?.dispose();
  return run(args, same ? host : undefined);
}
