/**
 * Regenerates docs/TOKENS.md: the capability matrix mkm's probe finds on each PKCS#11
 * implementation it is tested on, each started here from its Debian package exactly as the
 * integration suites start it (test/helpers/*), then stopped.
 *
 *   npx tsx scripts/token-matrix.ts            # writes docs/TOKENS.md
 *   npx tsx scripts/token-matrix.ts --stdout   # prints it instead
 *
 * An implementation whose packages are missing gets a column saying so, never made-up answers.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { MkmError } from '../shared/errors.std';
import { TokenEngine } from '../electron/hsm/pkcs11/token-engine.host';
import {
  CAPABILITY_NAMES,
  type CapabilitiesResult,
  type ModuleInfo,
  type SlotSummary,
} from '../shared/tokens.std';
import { createSoftHsmToken, softHsmAvailable } from '../test/helpers/softhsm';
import { acquireOpenCryptoki } from '../test/helpers/opencryptoki';
import { createNssToken, nssUnavailable } from '../test/helpers/nss';
import { startTpm2Token, tpm2Unavailable } from '../test/helpers/tpm2';

interface Target {
  name: string;
  packages: string;
  unavailable: string | null;
  start(): Promise<{
    modulePath: string;
    libraryParameters?: string;
    slotId: number;
    userPin?: string;
    stop(): Promise<void> | void;
  }>;
}

interface Found {
  target: Target;
  module?: ModuleInfo;
  slot?: SlotSummary;
  caps?: CapabilitiesResult;
  narrowRsa?: string;
  error?: string;
}

const TARGETS: Target[] = [
  {
    name: 'SoftHSM2',
    packages: 'softhsm2',
    unavailable: softHsmAvailable() ? null : 'softhsm2 is not installed',
    async start() {
      const t = createSoftHsmToken({ label: 'mkm-matrix' });
      return { modulePath: t.modulePath, slotId: t.slotId, userPin: t.userPin, stop: () => t.cleanup() };
    },
  },
  {
    name: 'openCryptoki (swtok)',
    packages: 'opencryptoki',
    unavailable: null,
    async start() {
      const ock = await acquireOpenCryptoki();
      try {
        const t = await ock.remake('mkm-matrix');
        return { modulePath: t.modulePath, slotId: t.slotId, userPin: t.userPin, stop: () => ock.release() };
      } catch (error) {
        ock.release();
        throw error;
      }
    },
  },
  {
    name: 'NSS softokn',
    packages: 'libnss3, libnss3-tools',
    unavailable: nssUnavailable(),
    async start() {
      const t = createNssToken();
      return {
        modulePath: t.modulePath,
        libraryParameters: t.libraryParameters,
        slotId: t.slotId,
        stop: () => t.cleanup(),
      };
    },
  },
  {
    name: 'tpm2-pkcs11 (swtpm)',
    packages: 'libtpm2-pkcs11-1, libtpm2-pkcs11-tools, swtpm, tpm2-abrmd, libtss2-tcti-tabrmd0, tpm2-tools',
    unavailable: tpm2Unavailable(),
    async start() {
      const t = await startTpm2Token({ label: 'mkm-matrix' });
      return { modulePath: t.modulePath, slotId: t.slotId, userPin: t.userPin, stop: () => t.stop() };
    },
  },
];

async function probe(target: Target): Promise<Found> {
  if (target.unavailable) return { target, error: target.unavailable };
  const t = await target.start();
  const svc = new TokenEngine();
  try {
    const module = await svc.loadModule({
      path: t.modulePath,
      ...(t.libraryParameters ? { libraryParameters: t.libraryParameters } : {}),
    });
    const slot = (await svc.listSlots({ tokenPresent: true })).find((s) => s.slotId === t.slotId);
    await svc.login(t.userPin ? { slotId: t.slotId, pin: t.userPin } : { slotId: t.slotId });
    const caps = await svc.probeCapabilities({ slotId: t.slotId });
    let narrowRsa = 'not tried (no RSA-2048)';
    if (caps.capabilities.rsa2048Generate.supported) {
      try {
        const k = await svc.generateKey({
          slotId: t.slotId,
          type: 'rsa-2048',
          label: 'mkm-matrix',
          purpose: 'gateway-transport',
        });
        narrowRsa = 'accepted';
        for (const cls of ['private', 'public'] as const) {
          await svc.destroyObject({ slotId: t.slotId, id: k.id, class: cls, confirm: true });
        }
      } catch (error) {
        narrowRsa =
          error instanceof MkmError && error.code === 'KEY_TEMPLATE_REFUSED'
            ? `refused (KEY_TEMPLATE_REFUSED): the token insists on ${(error.details?.refused as string[]).join(', ')}`
            : `failed: ${error instanceof MkmError ? error.code : String(error)}`;
      }
    }
    return { target, module, ...(slot ? { slot } : {}), caps, narrowRsa };
  } finally {
    await svc.unloadModule();
    await t.stop();
  }
}

function render(found: Found[]): string {
  const head = ['Capability', ...found.map((f) => f.target.name)];
  const cell = (f: Found, name: (typeof CAPABILITY_NAMES)[number]) => {
    if (!f.caps) return 'n/a';
    const c = f.caps.capabilities[name];
    return c.supported ? `yes${c.mechanism ? ` (${c.mechanism})` : ''}` : 'no';
  };
  const rows = [
    head,
    head.map(() => '---'),
    ...CAPABILITY_NAMES.map((name) => [`\`${name}\``, ...found.map((f) => cell(f, name))]),
    [
      'objects the probe used',
      ...found.map((f) =>
        f.caps ? (f.caps.objects === 'token' ? 'token (removed after)' : 'session') : 'n/a',
      ),
    ],
    ['best OAEP unwrap', ...found.map((f) => f.caps?.bestOaepUnwrap ?? (f.caps ? 'none' : 'n/a'))],
    [
      'login required',
      ...found.map((f) => (f.slot ? (f.slot.token!.flags.loginRequired ? 'yes' : 'no') : 'n/a')),
    ],
    ["mkm's narrow RSA template", ...found.map((f) => (f.narrowRsa ? f.narrowRsa.split(':')[0]! : 'n/a'))],
  ];
  const table = rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
  const details = found
    .map((f) => {
      const lines = [`### ${f.target.name}`, '', `Debian packages: ${f.target.packages}.`, ''];
      if (f.error) return [...lines, `Not probed: ${f.error}.`].join('\n');
      const m = f.module!;
      lines.push(
        `Library: ${m.manufacturer} ${m.libraryDescription} ${m.libraryVersion} (Cryptoki ${m.cryptokiVersion}).`,
        `Token: ${f.caps!.token.manufacturer} ${f.caps!.token.model}, firmware ${f.caps!.token.firmware}.`,
        `mkm's narrow RSA key template: ${f.narrowRsa}.`,
        '',
      );
      const nos = Object.entries(f.caps!.capabilities).filter(([, c]) => !c.supported);
      if (nos.length === 0) lines.push('Every capability mkm probes is there.');
      for (const [name, c] of nos)
        lines.push(`- \`${name}\`: ${c.reason}${c.detail ? ` (${c.detail})` : ''}`);
      return lines.join('\n');
    })
    .join('\n\n');
  return `# Tokens mkm is tested on

What mkm's capability probe (\`electron/hsm/pkcs11/probe.host.ts\`) finds on each PKCS#11
implementation the integration suites run on (\`test/integration/hsm/tokens-*.test.ts\`), each
from its Debian package and started by the tests themselves. Every mkm operation on these tokens
either works or is refused with a specific code, as this matrix predicts; the suites check it.

Generated by \`npx tsx scripts/token-matrix.ts\`; do not edit by hand.

${table}

"yes (0x210b)": the mechanism that does RFC 5649 there (NSS's 0x210A pads otherwise).

## Why not, token by token

${details}

## Setting each one up for mkm

- **SoftHSM2**: \`--module /usr/lib/softhsm/libsofthsm2.so\`; \`SOFTHSM2_CONF\` names its
  token folder.
- **openCryptoki**: \`--module /usr/lib/x86_64-linux-gnu/opencryptoki/libopencryptoki.so.0\` with
  \`pkcsslotd\` running; \`scripts/opencryptoki-token.sh\` makes the software token.
- **NSS softokn**: \`--module /usr/lib/x86_64-linux-gnu/libsoftokn3.so\` with its parameters,
  \`--module-params "configdir='sql:DIR' certPrefix='' keyPrefix='' secmod='secmod.db' flags="\`
  (or \`MKM_MODULE_PARAMS\`, or the parameters field when choosing the library in Tokens). A
  database made with \`certutil -N -d sql:DIR --empty-password\` needs no login: mkm uses it
  without a PIN, headless too. Without the parameters the library answers \`CKR_ARGUMENTS_BAD\`,
  and mkm says it may need initialisation parameters.
- **tpm2-pkcs11**: \`--module /usr/lib/x86_64-linux-gnu/libtpm2_pkcs11.so.1\` with
  \`TPM2_PKCS11_TCTI\` (e.g. \`tabrmd:bus_type=session\`) and \`TPM2_PKCS11_STORE\` set; the token is
  made with \`tpm2_ptool init\` and \`tpm2_ptool addtoken\`. Every RSA key it makes both signs and
  decrypts, so mkm's narrow templates are refused with \`KEY_TEMPLATE_REFUSED\`, naming the usages;
  \`mkm keys generate ... --accept-wider-usage\` keeps such a key and records it in the audit log.
  It takes and makes no secret keys and cannot unwrap, so gateway key sets, messages, KCVs and audit
  seals need another token.
`;
}

async function main(): Promise<void> {
  const found: Found[] = [];
  for (const target of TARGETS) {
    try {
      found.push(await probe(target));
    } catch (error) {
      found.push({ target, error: `set-up failed: ${(error as Error).message.split('\n')[0]}` });
    }
    console.error(`probed ${target.name}`);
  }
  const file = join(import.meta.dirname, '../docs/TOKENS.md');
  // Formatted as the repository's prettier check wants it, so regenerating never fails lint.
  const doc = await format(render(found), { ...(await resolveConfig(file)), parser: 'markdown' });
  if (process.argv.includes('--stdout')) process.stdout.write(doc);
  else writeFileSync(file, doc);
}

await main();
