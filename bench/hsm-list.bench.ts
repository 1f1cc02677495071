import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { attributeReaderFor } from '../electron/hsm/pkcs11/attribute-reader.host';
import { listObjectsRaw } from '../electron/hsm/pkcs11/objects.host';
import { pkcs11js as P } from '../electron/hsm/pkcs11/pkcs11.host';
import { freshToken, int, median, mib, mkmTokens, rawSession, verdict } from './lib/hsm';

/**
 * A token holding 10,000 objects (8,000 AES-256 keys, 1,000 HMAC keys, 1,000 data objects, all
 * private), seeded with pkcs11js C_CreateObject:
 * - listing them with their attributes: mkm (TokensService -> host -> listObjects) against
 *   `pkcs11-tool -O --login` on the same token, wall time. Target: mkm at least 3x faster
 *   (ratio mkm/pkcs11-tool <= 0.33; issue 13.9).
 * - the floor under that ratio: the host's own listing code (one search, one C_GetAttributeValue
 *   per object through the one-call reader, attribute-reader.host.ts) called in this process, no
 *   IPC and no main, against the same pkcs11-tool run: what mkm pays above this floor is its own,
 *   the rest is the token's. For reference, the same listing read through pkcs11js, which makes
 *   every read two module calls (sizes, then values); SoftHSM2 decrypts a private object's
 *   byte-string attributes (CKA_ID, CKA_LABEL) on each.
 * - memory after that listing: VmRSS of main plus the host process, against a bare Node process
 *   that only loads pkcs11js and lists the same objects with the same attributes. Target <= 1.5x.
 *   Measured twice: with main and host bundled by esbuild and run by plain node (how a build
 *   runs them, no tsx), and from the TypeScript sources through tsx (how `mkm` runs in a checkout).
 * Run: npx tsx bench/hsm-list.bench.ts
 */

const OBJECTS = { aes: 8_000, hmac: 1_000, data: 1_000 };
const TOTAL = OBJECTS.aes + OBJECTS.hmac + OBJECTS.data;
const LIST_RUNS = 3;
const TOOL_RUNS = 3;
const MEMORY_RUNS = 3;
/** The tsx figure is for reference (a build is what users run); one run keeps the suite short. */
const MEMORY_RUNS_TSX = 1;
const MEMORY_TARGET = 1.5;
/** mkm lists at least this many times faster than pkcs11-tool -O. */
const LIST_TARGET = 3;

const run = promisify(execFile);
const node = process.execPath;
const tsx = resolve('node_modules/.bin/tsx');

function seed(hsm: ReturnType<typeof freshToken>): number {
  const raw = rawSession(hsm);
  const t0 = performance.now();
  try {
    const key = (i: number, type: 'aes' | 'hmac') => [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: type === 'aes' ? P.CKK_AES : P.CKK_GENERIC_SECRET },
      { type: P.CKA_TOKEN, value: true },
      { type: P.CKA_PRIVATE, value: true },
      { type: P.CKA_SENSITIVE, value: true },
      { type: P.CKA_EXTRACTABLE, value: false },
      { type: type === 'aes' ? P.CKA_ENCRYPT : P.CKA_SIGN, value: true },
      { type: type === 'aes' ? P.CKA_DECRYPT : P.CKA_VERIFY, value: true },
      { type: P.CKA_LABEL, value: `bench-${type}-${i}` },
      { type: P.CKA_ID, value: randomBytes(16) },
      { type: P.CKA_VALUE, value: randomBytes(32) },
    ];
    for (let i = 0; i < OBJECTS.aes; i++) raw.pkcs11.C_CreateObject(raw.session, key(i, 'aes'));
    for (let i = 0; i < OBJECTS.hmac; i++) raw.pkcs11.C_CreateObject(raw.session, key(i, 'hmac'));
    for (let i = 0; i < OBJECTS.data; i++) {
      raw.pkcs11.C_CreateObject(raw.session, [
        { type: P.CKA_CLASS, value: P.CKO_DATA },
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_PRIVATE, value: true },
        { type: P.CKA_LABEL, value: `bench-data-${i}` },
        { type: P.CKA_APPLICATION, value: 'mkm-bench' },
        { type: P.CKA_VALUE, value: randomBytes(64) },
      ]);
    }
  } finally {
    raw.close();
  }
  return performance.now() - t0;
}

/** main and host bundled the way a build does: pkcs11js and koffi stay external (native addons). */
async function bundle(dir: string): Promise<{ main: string; host: string }> {
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(resolve('node_modules/pkcs11js'), join(dir, 'node_modules/pkcs11js'));
  symlinkSync(resolve('node_modules/koffi'), join(dir, 'node_modules/koffi'));
  const common = {
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    target: 'node20',
    external: ['pkcs11js', 'koffi'],
    // CommonJS dependencies require Node built-ins; an ESM bundle needs a real `require` for that.
    banner: {
      js: "import { createRequire as __mkmRequire } from 'node:module'; const require = __mkmRequire(import.meta.url);",
    },
    logLevel: 'silent' as const,
  };
  const main = join(dir, 'list-main.mjs');
  const host = join(dir, 'hsm-host.mjs');
  await build({ ...common, entryPoints: [resolve('bench/lib/list-main.ts')], outfile: main });
  await build({ ...common, entryPoints: [resolve('electron/hsm/host/host.host.ts')], outfile: host });
  return { main, host };
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const result = await work();
  return [result, performance.now() - t0];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const hsm = freshToken('bench-list');
const buildDir = mkdtempSync(join(tmpdir(), 'mkm-bench-build-'));
try {
  const slotId = hsm.slotId;
  const seedMs = seed(hsm);
  console.log(
    `list setup: ${int(TOTAL)} objects seeded with C_CreateObject in ${seconds(seedMs)} ` +
      `(${int(TOTAL / (seedMs / 1000))}/s)`,
  );

  // ---- listing time
  const tool = () =>
    run(
      'pkcs11-tool',
      ['--module', hsm.modulePath, '--slot', String(slotId), '-O', '--login', '--pin', hsm.userPin],
      { env: hsm.env, maxBuffer: 256 * 1024 * 1024 },
    ).then(
      ({ stdout }) =>
        (stdout.match(/^(Secret Key|Data|Private Key|Public Key|Certificate) Object/gim) ?? []).length,
    );

  const mkm = mkmTokens(hsm.modulePath);
  const mkmMs: number[] = [];
  const toolMs: number[] = [];
  let coldMs: number;
  try {
    // Cold: a new main-process service, host start, module load, login and the first listing
    // (SoftHSM2 reads the object files then), what pkcs11-tool pays on every run. It is also
    // mkm's warm-up for the timed listings.
    [, coldMs] = await timed(async () => {
      await mkm.tokens.call('login', { slotId, pin: hsm.userPin });
      const objects = await mkm.tokens.call('listObjects', { slotId });
      if (objects.length !== TOTAL) throw new Error(`mkm listed ${objects.length} objects`);
    });
    // pkcs11-tool's warm-up.
    if ((await tool()) !== TOTAL) throw new Error('pkcs11-tool did not list every object');

    for (let i = 0; i < Math.max(LIST_RUNS, TOOL_RUNS); i++) {
      if (i < TOOL_RUNS) toolMs.push((await timed(tool))[1]);
      if (i < LIST_RUNS) {
        const [objects, ms] = await timed(() => mkm.tokens.call('listObjects', { slotId }));
        if (objects.length !== TOTAL) throw new Error(`mkm listed ${objects.length} objects`);
        mkmMs.push(ms);
      }
    }
  } finally {
    await mkm.close();
  }
  // The floor: the same reads with nothing of mkm around them.
  const floorMs: number[] = [];
  const pkcs11jsMs: number[] = [];
  const direct = rawSession(hsm);
  const made = await attributeReaderFor(hsm.modulePath);
  if (!made.reader) throw new Error(`no one-call reader: ${made.why}`);
  try {
    for (let i = 0; i < LIST_RUNS; i++) {
      for (const [reader, samples] of [
        [made.reader, floorMs],
        [null, pkcs11jsMs],
      ] as const) {
        const [objects, ms] = await timed(async () =>
          listObjectsRaw(direct.pkcs11, direct.session, undefined, [], reader),
        );
        if (objects.length !== TOTAL) throw new Error(`the direct listing found ${objects.length} objects`);
        samples.push(ms);
      }
    }
  } finally {
    made.reader.close();
    direct.close();
  }
  const mkmList = median(mkmMs);
  const toolList = median(toolMs);
  console.log(
    `list ${int(TOTAL)} objects with attributes: mkm ${seconds(mkmList)} (host running, median of ${LIST_RUNS}), ` +
      `pkcs11-tool -O --login ${seconds(toolList)} (median of ${TOOL_RUNS}), ratio ${(mkmList / toolList).toFixed(2)} ` +
      `(target mkm ${LIST_TARGET}x faster, ratio <= ${(1 / LIST_TARGET).toFixed(2)}: ${verdict(mkmList * LIST_TARGET <= toolList)})`,
  );
  const floor = median(floorMs);
  console.log(
    `list ${int(TOTAL)} objects, the floor: the host's listing code in one process ` +
      `${seconds(floor)} (median of ${LIST_RUNS}), ratio to pkcs11-tool ${(floor / toolList).toFixed(2)}; ` +
      `mkm's own share (IPC, main) ${(((mkmList - floor) / mkmList) * 100).toFixed(0)}% of its listing`,
  );
  const viaPkcs11js = median(pkcs11jsMs);
  console.log(
    `list ${int(TOTAL)} objects, the same listing read through pkcs11js (two module calls a read), for reference: ` +
      `${seconds(viaPkcs11js)} (median of ${LIST_RUNS}), ratio to pkcs11-tool ${(viaPkcs11js / toolList).toFixed(2)}`,
  );
  console.log(
    `list ${int(TOTAL)} objects, mkm from cold (host start, module load, login, first listing): ` +
      `${seconds(coldMs)}, pkcs11-tool ${seconds(toolList)}, ratio ${(coldMs / toolList).toFixed(2)}`,
  );

  // ---- memory
  const { main: builtMain, host: builtHost } = await bundle(buildDir);
  const args = [hsm.modulePath, String(slotId), hsm.userPin];
  const parse = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
  const mkmRss = async (dev: boolean) => {
    const { stdout } = dev
      ? await run(tsx, [resolve('bench/lib/list-main.ts'), ...args], { env: hsm.env })
      : await run(node, [builtMain, ...args, builtHost], { env: hsm.env });
    const r = parse(stdout);
    if (r.count !== TOTAL) throw new Error(`mkm listed ${r.count} objects`);
    return { main: r.mainKiB!, host: r.hostKiB! };
  };
  const bareRss = async () => {
    const { stdout } = await run(node, [resolve('bench/lib/list-bare.mjs'), ...args], { env: hsm.env });
    const r = parse(stdout);
    if (r.count !== TOTAL) throw new Error(`the bare lister listed ${r.count} objects`);
    return r.rssKiB!;
  };
  const built: { main: number; host: number }[] = [];
  const dev: { main: number; host: number }[] = [];
  const bare: number[] = [];
  for (let i = 0; i < MEMORY_RUNS; i++) {
    built.push(await mkmRss(false));
    if (i < MEMORY_RUNS_TSX) dev.push(await mkmRss(true));
    bare.push(await bareRss());
  }
  const bareKiB = median(bare);
  for (const [label, samples] of [
    [`built, plain node, median of ${MEMORY_RUNS}`, built],
    [`tsx as in a checkout, ${MEMORY_RUNS_TSX} run, for reference`, dev],
  ] as const) {
    const main = median(samples.map((s) => s.main));
    const host = median(samples.map((s) => s.host));
    const ratio = (main + host) / bareKiB;
    console.log(
      `memory after listing ${int(TOTAL)} objects (${label}): ` +
        `mkm main ${mib(main)} + host ${mib(host)} = ${mib(main + host)}, ` +
        `bare node + pkcs11js ${mib(bareKiB)} (median of ${MEMORY_RUNS}), ratio ${ratio.toFixed(2)} ` +
        `(target <= ${MEMORY_TARGET}x: ${verdict(ratio <= MEMORY_TARGET)})`,
    );
  }
} finally {
  rmSync(buildDir, { recursive: true, force: true });
  hsm.cleanup();
}
