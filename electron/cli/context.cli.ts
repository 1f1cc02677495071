import type { Command } from 'commander';
import type { Contract } from '../../shared/contract.std';
import type { ParsedRequestOf, ResultOf } from '../../shared/contract-kit.std';
import type { App } from '../core/app.main';
import type { Output } from './output.cli';

/** What every CLI command gets: the global options, the output, and the registry. */
export interface GlobalOptions {
  json: boolean;
  dataDir: string;
  module?: string;
  /** --module-params or MKM_MODULE_PARAMS. */
  moduleParams?: string;
  token?: string;
  slot?: string;
}

export interface CliContext {
  options: GlobalOptions;
  out: Output;
  app(): App;
  close(): Promise<void>;
  call<NS extends keyof Contract, M extends keyof Contract[NS]>(
    channel: `${NS & string}.${M & string}`,
    request?: ParsedRequestOf<Contract[NS][M]>,
  ): Promise<ResultOf<Contract[NS][M]>>;
}

export type CommandInstaller = (program: Command, ctx: () => CliContext) => void;

export const installers: CommandInstaller[] = [];
/** Each domain (tokens, keys, audit, gateway, console) adds its commands through this. */
export function addCommands(installer: CommandInstaller): void {
  installers.push(installer);
}

/**
 * A command group (`mkm console`, `mkm keys`) shared by several domains' files: the first
 * caller makes it, later ones add their subcommands to the same group.
 */
export function commandGroup(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}
