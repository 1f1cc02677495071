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
