import { Command, CommanderError, Option } from 'commander';
import { resolve } from 'node:path';
import pkg from '../../package.json' with { type: 'json' };
import type { AppStatus } from '../../shared/contract.std';
import { MkmError } from '../../shared/errors.std';
import type { App } from '../core/app.nodejs';
import { TOKEN_WAIT_PHASES } from '../hsm/operations.nodejs';
import { defaultDataDir } from '../core/paths.nodejs';
import { setProcessRole } from '../core/process-role.nodejs';
import { createOutput, EXIT, usage } from './output.cli';
import './commands.cli';
import { prestartHost, type PrestartedHost } from '../hsm/prestarted-host.nodejs';
import { commandUsesToken } from './argv.std';
import {
  installCommandGroups,
  loggedInSlot,
  needsNoLogin,
  type CliContext,
  type GlobalOptions,
} from './context.cli';

/**
 * `mkm`: the same services as the desktop app, headless. Commands go through the same
 * registry as the UI (transport "cli"), so they get the same validation and the same errors.
 * Start-up is paid by every scripted command: the services and each command's module load only
 * when a command needs them (`mkm --version` builds nothing).
 */
function statusText(s: AppStatus): string {
  return [
    `${s.app.name} ${s.app.version}${s.app.packaged ? '' : ' (development)'}`,
    `data folder      ${s.dataDir}`,
    `settings store   ${s.store.ok ? 'ok' : `restored from ${s.store.restoredFrom}`}`,
    `PKCS#11 library  ${libraryText(s.hsm)}`,
    `runtime          node ${s.runtime.node} on ${s.runtime.platform}/${s.runtime.arch}`,
  ].join('\n');
}

function libraryText(h: AppStatus['hsm']): string {
  if (!h.modulePath) return h.demo ? 'the demo token (SoftHSM2), not started yet' : 'none chosen';
  const from = h.source === 'override' ? ' (--module)' : h.source === 'demo' ? ' (demo token)' : '';
  return [
    `${h.modulePath}${from}`,
    h.parameters ? 'with initialisation parameters' : '',
    h.library ? `— ${h.library}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/**
 * A long token call says on stderr that it waits on the token, whatever command made it (stdout
 * stays the command's result, for scripts).
 */
function printTokenWaits(name: string, payload: unknown): void {
  if (name !== 'progress') return;
  const p = payload as { phase: string; message: string };
  if (TOKEN_WAIT_PHASES.includes(p.phase)) process.stderr.write(`${p.message}\n`);
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export function buildProgram(
  argvJson: boolean,
  host: PrestartedHost | null = null,
): {
  program: Command;
  context: () => CliContext;
  commands: { loadAll(): Promise<void> };
} {
  let cached: CliContext | null = null;
  let app: Promise<App> | null = null;
  const program = new Command();
  program
    .name('mkm')
    .description('Merchant Key Manager: payment-gateway keys on a PKCS#11 token, from the command line.')
    .version(pkg.version, '-V, --version')
    .option('--json', 'machine-readable output: one JSON document on stdout', false)
    .option('--data-dir <dir>', 'where the store, audit log and app data live', defaultDataDir())
    .option('--module <path>', 'the PKCS#11 library to use')
    .addOption(
      new Option(
        '--module-params <text>',
        "the library's initialisation parameters (NSS softokn: configdir='sql:DIR' ...)",
      ).env('MKM_MODULE_PARAMS'),
    )
    .addOption(new Option('--token <label>', 'the token, by label').conflicts('slot'))
    .addOption(new Option('--slot <id>', 'the token, by slot id').conflicts('token'))
    .showHelpAfterError('(run mkm --help for usage)')
    // The audit and inventory locks say which command holds them (AUDIT_BUSY, KEYS_BUSY).
    .hook('preAction', (_program, action) => setProcessRole(`the command "mkm ${commandPath(action)}"`))
    .exitOverride()
    .configureOutput({ writeErr: () => {} });

  // Headless, a login needs MKM_PIN, or a token that needs no login at all.
  const canLogIn = async (ctx: CliContext) => !!process.env.MKM_PIN || (await needsNoLogin(ctx));
  const context = (): CliContext => {
    if (cached) return cached;
    const opts = program.opts<GlobalOptions>();
    const options: GlobalOptions = { ...opts, json: argvJson || opts.json, dataDir: resolve(opts.dataDir) };
    const getApp = () =>
      (app ??= import('../core/app.nodejs').then(({ createApp }) => {
        const created = createApp({
          mode: 'cli',
          dataDir: options.dataDir,
          moduleOverride: options.module,
          moduleParametersOverride: options.moduleParams,
          isTrustedSender: (s) => s.transport === 'cli',
          ...(host ? { hostSpawnerFor: (env, logger) => host.spawnerFor(env, logger) } : {}),
        });
        created.events.subscribe(printTokenWaits);
        return created;
      }));
    cached = {
      options,
      out: createOutput(options.json),
      app: getApp,
      close: async () => {
        host?.dispose();
        if (!app) return;
        // A pinned-state file written without a login is sealed by logging in before the end
        // (with MKM_PIN, or without a PIN on a token that needs no login).
        if ((await app).seals.unsealedWritten() && (await canLogIn(cached!)))
          await loggedInSlot(cached!).catch(() => {});
        await (await app).close();
      },
      async call(channel, request) {
        let envelope = await (await getApp()).registry.dispatch(channel, request, { transport: 'cli' });
        // Pinned state is only trusted once the token checked its seal: log in (MKM_PIN), once.
        if (!envelope.ok && envelope.error.code === 'STATE_UNCHECKED' && (await canLogIn(cached!))) {
          await loggedInSlot(cached!);
          envelope = await (await getApp()).registry.dispatch(channel, request, { transport: 'cli' });
        }
        if (!envelope.ok) throw MkmError.fromShape(envelope.error);
        return envelope.result as never;
      },
    };
    return cached;
  };

  program
    .command('status')
    .description('show what mkm is, where its data lives and how it runs')
    .action(async () => {
      const ctx = context();
      const status = await ctx.call('app.status');
      ctx.out.result(status, () => statusText(status));
    });

  program
    .command('build-hash')
    .description(
      'print the hash of the code mkm runs, in hex and in PGP words, to compare with the published one',
    )
    .action(async () => {
      const ctx = context();
      const built = await ctx.call('app.buildHash');
      ctx.out.result(built, () =>
        [
          `mkm ${built.version}`,
          `sha256  ${built.sha256}`,
          `words   ${built.words.join(' ')}`,
          `of      ${built.roots.join(', ')}`,
        ].join('\n'),
      );
    });

  const commands = installCommandGroups(program, context);
  return { program, context, commands };
}

/**
 * `prestarted`: a token host the bundle's entry forked before loading this code (dist-cli/mkm.mjs);
 * otherwise, for a command that uses the token, one is forked here first of all.
 */
export async function main(argv: string[], prestarted?: PrestartedHost | null): Promise<number> {
  const json = argv.includes('--json');
  const out = createOutput(json);
  // First of all: the token host starts while this process loads the rest of the command.
  const host = prestarted !== undefined ? prestarted : commandUsesToken(argv) ? prestartHost() : null;
  const { program, context, commands } = buildProgram(json, host);
  try {
    // No command named, or `mkm help X` (commander prints it without dispatching): the help
    // and the usage errors see every command in full.
    // (`mkm --version` names none and needs none of them.)
    const version = argv.includes('--version') || argv.includes('-V');
    if (argv.includes('help') || (!version && !program.commands.some((c) => argv.includes(c.name())))) {
      await commands.loadAll();
    }
    await program.parseAsync(argv, { from: 'user' });
    // A command that printed its result but must still fail (a tampered audit log) sets it.
    return typeof process.exitCode === 'number' && process.exitCode !== 0 ? process.exitCode : EXIT.OK;
  } catch (error) {
    return report(error);
  } finally {
    await context()
      .close()
      .catch(() => {});
  }

  function report(error: unknown): number {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.OK;
      if (error.code === 'commander.help') return EXIT.OK;
      const message = error.message.replace(/^error:\s*/i, '');
      return out.fail(usage(message.charAt(0).toUpperCase() + message.slice(1)));
    }
    return (context().out ?? out).fail(error);
  }
}
