import { readFileSync } from 'node:fs';
import type { Diagnosis } from '../../shared/contract/troubleshoot.std';
import { MkmError } from '../../shared/errors.std';
import { loggedInSlot, type CliContext, type CommandInstaller, type CommandModule } from './context.cli';

/**
 * `mkm console diagnose --in FILE|-`: the troubleshooter. Exit 0 whenever a diagnosis was made,
 * however broken the input: the diagnosis is the product. Exit 1 only when it could not run.
 * With MKM_PIN set it logs in, so the token's keys are tried; without, it says what it skipped.
 */

const MAX_INPUT = 256 * 1024;

async function readInput(source: string): Promise<string> {
  if (source !== '-') {
    try {
      return readFileSync(source, 'utf8');
    } catch (error) {
      throw new MkmError('IO_ERROR', `Could not read ${source}.`, {
        reason: (error as { code?: string }).code ?? 'unknown',
      });
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const LABEL = { error: 'ERROR  ', warning: 'WARN   ', info: 'INFO   ', ok: 'OK     ' } as const;

export function diagnosisText(d: Diagnosis): string {
  const lines = [
    `diagnosed: ${d.kind} (${d.input.chars} characters)` +
      `${d.profileId ? `, profile ${d.profileId}` : ''}${d.slotId !== null ? `, token slot ${d.slotId}` : ''}`,
    '',
  ];
  for (const f of d.findings) {
    lines.push(`${LABEL[f.severity]}${f.title} [${f.code}]`);
    if (f.explanation) lines.push(`       ${f.explanation}`);
    if (f.fix) lines.push(`       fix: ${f.fix}`);
    const evidence = Object.entries(f.evidence).map(([k, v]) => `${k}=${String(v)}`);
    if (evidence.length) lines.push(`       evidence: ${evidence.join(', ')}`);
  }
  if (d.skipped.length) lines.push('', 'not checked:', ...d.skipped.map((s) => `  - ${s}`));
  return lines.join('\n');
}

async function diagnoseCommand(ctx: CliContext, opts: { in: string; profile?: string }) {
  const input = await readInput(opts.in);
  if (input.length > MAX_INPUT)
    throw new MkmError('VALIDATION', `The input is over ${MAX_INPUT / 1024} KiB; paste one payload.`);
  let slotId: number | undefined;
  if (process.env.MKM_PIN) slotId = (await loggedInSlot(ctx)).slotId;
  const diagnosis = await ctx.call('troubleshoot.diagnose', {
    input,
    ...(opts.profile ? { profileId: opts.profile } : {}),
    ...(slotId !== undefined ? { slotId } : {}),
  });
  ctx.out.result(diagnosis, () => diagnosisText(diagnosis));
}

const install: CommandInstaller = (group, context) => {
  group
    .command('diagnose')
    .description('diagnose a ciphertext, CSE field, request body, envelope or PEM (findings with fixes)')
    .requiredOption('--in <file>', 'the file to diagnose, or - for standard input')
    .option('--profile <id>', 'the gateway profile the payload targets')
    .action(async (opts: { in: string; profile?: string }) => diagnoseCommand(context(), opts));
};

export const commands: CommandModule['commands'] = { console: install };
