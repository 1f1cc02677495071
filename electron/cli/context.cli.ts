import type { Command } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import type { Contract } from '../../shared/contract.std';
import type { ParsedRequestOf, ResultOf } from '../../shared/contract-kit.std';
import { MkmError } from '../../shared/errors.std';
import type { ObjectInfo, SlotSummary } from '../../shared/tokens.std';
import type { App } from '../core/app.nodejs';
import type { Output } from './output.cli';
import { readPin } from './pin.cli';

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
  /** The services, composed on first use (a command that only prints never builds them). */
  app(): Promise<App>;
  close(): Promise<void>;
  call<NS extends keyof Contract, M extends keyof Contract[NS]>(
    channel: `${NS & string}.${M & string}`,
    request?: ParsedRequestOf<Contract[NS][M]>,
  ): Promise<ResultOf<Contract[NS][M]>>;
}

/** Fills in one top-level command (its options and action, or its subcommands). */
export type CommandInstaller = (command: Command, context: () => CliContext) => void;
/** What a command module exports: an installer per top-level command it fills in. */
export interface CommandModule {
  commands: Partial<Record<string, CommandInstaller>>;
}

interface GroupRegistration {
  /** The command as commander takes it: its name, then its arguments (`rotate <ref>`). */
  spec: string;
  description: string;
  load: () => Promise<CommandModule>;
}

const registrations: GroupRegistration[] = [];

/**
 * Registers a top-level command (`mkm tokens`) or group (`mkm keys ...`) by name and description;
 * the module that implements it is imported only when the command runs, so `mkm tokens` never
 * loads the console, the report or the exchange code. Several modules may add to one group
 * (`keys`): each registers it with its own loader, and the first description is the group's.
 */
export function commandGroup(spec: string, description: string, load: () => Promise<CommandModule>): void {
  registrations.push({ spec, description, load });
}

/**
 * Adds every registered command to the program as a stub, filled in by its modules just before
 * commander dispatches to it. `loadAll` fills in all of them (the top-level help lists their
 * options and arguments as an eager program would).
 */
export function installCommandGroups(
  program: Command,
  context: () => CliContext,
): { loadAll(): Promise<void> } {
  const groups = new Map<
    string,
    { command: Command; loads: GroupRegistration['load'][]; loaded?: Promise<void> }
  >();
  for (const r of registrations) {
    const name = r.spec.split(' ')[0]!;
    const group = groups.get(name);
    if (group) group.loads.push(r.load);
    else groups.set(name, { command: program.command(r.spec).description(r.description), loads: [r.load] });
  }
  const fill = (name: string) => {
    const group = groups.get(name);
    if (!group) return Promise.resolve();
    return (group.loaded ??= Promise.all(group.loads.map((load) => load())).then((modules) => {
      for (const module of modules) {
        const install = module.commands[name];
        if (!install) throw new Error(`A module registered for "${name}" has no installer for it.`);
        install(group.command, context);
      }
    }));
  };
  program.hook('preSubcommand', (_program, sub) => fill(sub.name()));
  return {
    loadAll: async () => {
      for (const name of groups.keys()) await fill(name);
    },
  };
}

/**
 * A file the user named, as text, refused before it is read when it is larger than `limit` bytes
 * (`tooLarge` says what it is not); NOT_FOUND when it cannot be read at all.
 */
export function readBoundedFile(file: string, limit: number, tooLarge: (bytes: number) => MkmError): string {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (error) {
    throw new MkmError('NOT_FOUND', `Cannot read ${file}.`, {
      file,
      reason: (error as { code?: string }).code ?? 'unknown',
    });
  }
  if (size > limit) throw tooLarge(size);
  return readFileSync(file, 'utf8');
}

/** The token named by --slot or --token, else the only (or first) initialized one present. */
export async function resolveSlot(ctx: CliContext): Promise<SlotSummary> {
  const slots = await ctx.call('tokens.list');
  const { slot, token } = ctx.options;
  if (slot !== undefined) {
    const found = slots.find((s) => String(s.slotId) === slot);
    if (!found) throw new MkmError('SLOT_NOT_FOUND', `No slot ${slot}. Run "mkm tokens" to see the slots.`);
    if (!found.token) throw new MkmError('TOKEN_NOT_PRESENT', `Slot ${slot} holds no token.`);
    return found;
  }
  const present = slots.filter((s) => s.token?.flags.tokenInitialized);
  if (token !== undefined) {
    const found = present.find((s) => s.token!.label.trim() === token);
    if (!found)
      throw new MkmError('SLOT_NOT_FOUND', `No token labelled "${token}". Run "mkm tokens" to see them.`);
    return found;
  }
  const first = present[0];
  if (!first) throw new MkmError('TOKEN_NOT_PRESENT', 'No initialized token is present.');
  return first;
}

/** Whether the token in use needs no login (used without a PIN, headless too); false when none is reachable. */
export async function needsNoLogin(ctx: CliContext): Promise<boolean> {
  try {
    return !(await resolveSlot(ctx)).token!.flags.loginRequired;
  } catch {
    return false;
  }
}

export async function loggedInSlot(ctx: CliContext): Promise<SlotSummary> {
  const slot = await resolveSlot(ctx);
  if (!slot.session.loggedIn) {
    const flags = slot.token!.flags;
    // A token that needs no login (CKF_LOGIN_REQUIRED clear) is used without a PIN, headless too;
    // the PIN pad takes the PIN when there is one and MKM_PIN is not set.
    const noPin = !flags.loginRequired || (flags.protectedAuthenticationPath && !process.env.MKM_PIN);
    await ctx.call(
      'tokens.login',
      noPin ? { slotId: slot.slotId } : { slotId: slot.slotId, pin: await readPin() },
    );
  }
  return slot;
}

/** A key named by its CKA_ID (hex) or its label; an ambiguous label is refused, not guessed. */
export async function resolveKey(
  ctx: CliContext,
  slotId: number,
  ref: string,
  classes?: ObjectInfo['class'][],
) {
  const objects = (await ctx.call('keys.list', { slotId })).filter(
    (o) => !classes || classes.includes(o.class),
  );
  const byId = objects.filter((o) => o.id === ref.toLowerCase());
  const matches = byId.length ? byId : objects.filter((o) => o.label === ref);
  if (matches.length === 0) throw new MkmError('KEY_NOT_FOUND', `No key with id or label "${ref}".`);
  const ids = new Set(matches.map((o) => o.id));
  if (ids.size > 1) {
    throw new MkmError('CONFLICT', `"${ref}" names ${ids.size} keys; use an id: ${[...ids].join(', ')}.`);
  }
  return matches;
}
