import { Option } from 'commander';
import { ComponentKeyTypeSchema, type ComponentKeyType } from '../../shared/formats/components.std';
import { formatLabelledKcv, type LabelledKcv } from '../../shared/formats/kcv-methods.std';
import {
  Tr31ExportabilitySchema,
  Tr31ModeOfUseSchema,
  Tr31UsageSchema,
  Tr31VersionSchema,
  type Tr31HeaderSummary,
} from '../../shared/ceremony/tr31-ops.std';
import { loggedInSlot, resolveKey, type CliContext, type CommandModule } from './context.cli';
import { usage } from './output.cli';

/**
 * `mkm keys export-tr31` and `mkm keys import-tr31` (issue 11 point 4): TR-31 / X9.143 key blocks
 * under a key block protection key on the token. The block goes to stdout (export) and comes from
 * stdin (import), so it pipes; the check values go to stderr beside it, or with the block in
 * `--json`. No clear key ever reaches this process.
 */

const kcvsText = (kcvs: LabelledKcv[]) => kcvs.map(formatLabelledKcv).join(', ');
const headerText = (h: Tr31HeaderSummary) =>
  `version ${h.version}, usage ${h.usage}, algorithm ${h.algorithm}, mode ${h.modeOfUse}, key version ${h.keyVersion}, exportability ${h.exportability}`;

async function secretId(ctx: CliContext, slotId: number, ref: string): Promise<string> {
  return (await resolveKey(ctx, slotId, ref, ['secret']))[0]!.id;
}

async function readBlock(): Promise<string> {
  if (process.stdin.isTTY) throw usage('Give the key block on stdin: mkm keys import-tr31 ... < block.txt');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) throw usage('No key block on stdin.');
  return text;
}

const kbpkTypeOption = () =>
  new Option(
    '--kbpk-type <type>',
    "the KBPK's type, where the token does not report its size (keys formed from components)",
  ).choices(ComponentKeyTypeSchema.options);

export const commands: CommandModule['commands'] = {
  keys: (keys, context) => {
    keys
      .command('export-tr31 <ref>')
      .description('export a key (id or label) as a TR-31 / X9.143 key block under a KBPK on the token')
      .requiredOption('--kbpk <ref>', 'the key block protection key (id or label)')
      .addOption(
        new Option('--usage <usage>', 'key usage, e.g. D0, K0, P0, M3, B0')
          .choices(Tr31UsageSchema.options)
          .makeOptionMandatory(),
      )
      .addOption(
        new Option('--mode-of-use <mode>', 'mode of use, e.g. B, E, D, C, G, V, X, N')
          .choices(Tr31ModeOfUseSchema.options)
          .makeOptionMandatory(),
      )
      .addOption(
        new Option('--exportability <e>', 'E, N (never exported again) or S')
          .choices(Tr31ExportabilitySchema.options)
          .makeOptionMandatory(),
      )
      .addOption(
        new Option('--version <v>', 'D (AES KBPK) or B (TDES KBPK); default from the KBPK').choices(
          Tr31VersionSchema.options,
        ),
      )
      .addOption(
        new Option('--kc <method>', 'add a KC block: the key check value by this method').choices([
          'legacy',
          'cmac',
        ]),
      )
      .addOption(
        new Option('--kp <method>', "add a KP block: the KBPK's check value by this method").choices([
          'legacy',
          'cmac',
        ]),
      )
      .addOption(kbpkTypeOption())
      .action(
        async (
          ref: string,
          opts: {
            kbpk: string;
            usage: (typeof Tr31UsageSchema.options)[number];
            modeOfUse: (typeof Tr31ModeOfUseSchema.options)[number];
            exportability: (typeof Tr31ExportabilitySchema.options)[number];
            version?: 'D' | 'B';
            kc?: 'legacy' | 'cmac';
            kp?: 'legacy' | 'cmac';
            kbpkType?: ComponentKeyType;
          },
        ) => {
          const ctx = context();
          const slot = await loggedInSlot(ctx);
          const keyId = await secretId(ctx, slot.slotId, ref);
          const kbpkId = await secretId(ctx, slot.slotId, opts.kbpk);
          const kcv = { ...(opts.kc ? { KC: opts.kc } : {}), ...(opts.kp ? { KP: opts.kp } : {}) };
          const out = await ctx.call('keys.exportTr31', {
            slotId: slot.slotId,
            keyId,
            kbpkId,
            usage: opts.usage,
            modeOfUse: opts.modeOfUse,
            exportability: opts.exportability,
            ...(opts.version ? { version: opts.version } : {}),
            ...(opts.kc || opts.kp ? { kcv } : {}),
            ...(opts.kbpkType ? { kbpkType: opts.kbpkType } : {}),
          });
          if (!ctx.out.json) {
            process.stderr.write(
              `key ${keyId}: ${kcvsText(out.keyKcvs)}\nKBPK ${kbpkId}: ${kcvsText(out.kbpkKcvs)}\n${headerText(out.header)}\n`,
            );
          }
          ctx.out.result(out, () => out.block);
        },
      );

    keys
      .command('import-tr31')
      .description('import a TR-31 / X9.143 key block (on stdin) into the token under a KBPK')
      .requiredOption('--kbpk <ref>', 'the key block protection key (id or label)')
      .requiredOption('--label <label>', 'the label the imported key gets')
      .addOption(kbpkTypeOption())
      .action(async (opts: { kbpk: string; label: string; kbpkType?: ComponentKeyType }) => {
        const ctx = context();
        const block = await readBlock();
        const slot = await loggedInSlot(ctx);
        const kbpkId = await secretId(ctx, slot.slotId, opts.kbpk);
        const out = await ctx.call('keys.importTr31', {
          slotId: slot.slotId,
          kbpkId,
          block,
          label: opts.label,
          ...(opts.kbpkType ? { kbpkType: opts.kbpkType } : {}),
        });
        const allowed = Object.entries(out.attributes)
          .filter(([, v]) => v)
          .map(([k]) => k)
          .join(', ');
        ctx.out.result(out, () =>
          [
            `imported "${out.label}" id ${out.id} (${out.keyType})`,
            `KCV ${kcvsText(out.kcvs)}`,
            `checked in the block: ${out.checkedKcvs.length ? out.checkedKcvs.join(', ') : 'no KC/KP block'}`,
            headerText(out.header),
            `on the token: ${allowed}`,
          ].join('\n'),
        );
      });
  },
};
