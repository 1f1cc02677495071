/** Global options that take a value: their value is never the command's name. */
export const GLOBAL_VALUE_OPTIONS: ReadonlySet<string> = new Set([
  '--data-dir',
  '--module',
  '--module-params',
  '--token',
  '--slot',
]);

/**
 * The command these arguments name (`keys` in `mkm --data-dir d keys list`), read before
 * commander parses: to fork the token host early, and to pick the code cache of that command.
 */
export function commandNameOf(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_VALUE_OPTIONS.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return null;
}

/**
 * The commands that always reach the token: their host process is forked first of all, before
 * the CLI's bundle loads (dist-cli/mkm.mjs), and it starts beside the rest of the command. Here,
 * not on the registrations, because the entry reads it before any command module exists.
 */
export const TOKEN_COMMANDS: ReadonlySet<string> = new Set([
  'tokens',
  'login-test',
  'capabilities',
  'keys',
  'rotate',
]);

/**
 * Whether the command these arguments name talks to the token (`mkm --json keys list` does,
 * `mkm audit verify` and `mkm --version` do not). A wrong answer only costs time.
 */
export function commandUsesToken(argv: readonly string[]): boolean {
  const name = commandNameOf(argv);
  return name !== null && TOKEN_COMMANDS.has(name);
}
