import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HsmClient } from '../../../electron/hsm/client.nodejs';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * A packaged app runs the host from a bundled JS file, without tsx. Bundle the entry the way a
 * build would (pkcs11js external: it carries a native addon) and drive it through the client.
 * esbuild comes with tsx; the app's own build uses vite.
 */
let hsm: SoftHsmToken;
let dir: string;

beforeAll(async () => {
  hsm = createSoftHsmToken({ setProcessEnv: false });
  dir = mkdtempSync(join(tmpdir(), 'mkm-host-build-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(resolve('node_modules/pkcs11js'), join(dir, 'node_modules/pkcs11js'));
  symlinkSync(resolve('node_modules/koffi'), join(dir, 'node_modules/koffi'));
  // As vite writes dist-electron/: ES modules in .js files.
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  await bundle('electron/hsm/host/host.host.ts', 'hsm-host.js');
});

async function bundle(entry: string, out: string): Promise<void> {
  await build({
    entryPoints: [resolve(entry)],
    outfile: join(dir, out),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['pkcs11js', 'koffi'],
    // CommonJS dependencies require Node built-ins; an ESM bundle needs a real `require` for that.
    banner: {
      js: "import { createRequire as __mkmRequire } from 'node:module'; const require = __mkmRequire(import.meta.url);",
    },
    logLevel: 'silent',
  });
}

afterAll(() => {
  hsm?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the bundled host entry', () => {
  it('starts without tsx and serves calls', async () => {
    const client = new HsmClient({ hostEntry: join(dir, 'hsm-host.js'), env: hsm.env });
    try {
      await client.start();
      await client.call('loadModule', { path: hsm.modulePath });
      await client.call('login', { slotId: hsm.slotId, pin: hsm.userPin });
      const slots = await client.call('listSlots');
      expect(slots.find((s) => s.slotId === hsm.slotId)?.session).toMatchObject({ loggedIn: true });
      // A bulk AES batch through the bundle (binary both ways, on a session copy of the key).
      const key = await client.call('generateKey', {
        slotId: hsm.slotId,
        type: 'aes-256',
        label: 'built-batch',
        purpose: 'data',
      });
      const items = Array.from({ length: 512 }, (_, i) => ({
        iv: new Uint8Array(16).fill(i & 0xff),
        data: new Uint8Array(100).fill(7),
      }));
      const batch = await client.call('encryptBatch', {
        slotId: hsm.slotId,
        id: key.id,
        mechanism: 'AES_CBC_PAD',
        items,
        output: 'binary',
      });
      expect(batch.keyCopy).toBe(true);
      expect(batch.items).toHaveLength(512);
      // Same IV and data give the same ciphertext.
      expect(Buffer.from(batch.items[511] as Uint8Array)).toEqual(
        Buffer.from(batch.items[255] as Uint8Array),
      );
    } finally {
      await client.stop();
    }
  });
});

describe('a host that cannot stay up', () => {
  it('fails start() clearly when the entry is missing or dies before it is ready', async () => {
    const missing = new HsmClient({ hostEntry: join(dir, 'missing.mjs') });
    await expect(missing.start()).rejects.toMatchObject({ code: 'TOKEN_CONNECTION_LOST' });
    writeFileSync(join(dir, 'dies.mjs'), 'process.exit(3);\n');
    const dies = new HsmClient({ hostEntry: join(dir, 'dies.mjs') });
    await expect(dies.start()).rejects.toMatchObject({ code: 'TOKEN_CONNECTION_LOST', details: { code: 3 } });
  });

  it('restarts a host that aborts, then gives up after repeated aborts while main lives on', async () => {
    // Stands in for a vendor library that calls abort() on every load.
    writeFileSync(
      join(dir, 'aborts.mjs'),
      "process.send({ t: 'event', name: 'ready', pid: process.pid, protocol: 1 });\nsetTimeout(() => process.abort(), 100);\n",
    );
    const client = new HsmClient({
      hostEntry: join(dir, 'aborts.mjs'),
      restart: { delaysMs: [50], maxRapidCrashes: 3, rapidWindowMs: 30_000 },
    });
    const lost: unknown[] = [];
    client.on('connection-lost', (info) => lost.push(info));
    const gaveUp = new Promise<Error>((resolve) => client.once('gave-up', resolve));
    await client.start();
    expect((await gaveUp).message).toMatch(/stopped 3 times/);
    expect(lost[0]).toMatchObject({ reason: 'exit', signal: 'SIGABRT' });
    await expect(client.call('listSlots')).rejects.toMatchObject({ code: 'TOKEN_CONNECTION_LOST' });
    await client.stop();
  });
});

describe('when main itself dies', () => {
  it('the host exits too instead of holding a logged-in session', async () => {
    const script = join(dir, 'main.mts');
    writeFileSync(
      script,
      [
        `import { HsmClient } from ${JSON.stringify(resolve('electron/hsm/client.nodejs.ts'))};`,
        `const client = new HsmClient({ hostEntry: ${JSON.stringify(join(dir, 'hsm-host.js'))} });`,
        'await client.start();',
        `await client.call('loadModule', { path: ${JSON.stringify(hsm.modulePath)} });`,
        `await client.call('login', { slotId: ${hsm.slotId}, pin: process.env.TEST_PIN });`,
        'process.stdout.write(`${client.hostPid}\\n`);',
        'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    const main = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...hsm.env, TEST_PIN: hsm.userPin },
    });
    const hostPid = await new Promise<number>((resolvePid, reject) => {
      main.stdout.once('data', (chunk: Buffer) => resolvePid(Number(chunk.toString().trim())));
      main.once('exit', () => reject(new Error('main exited early')));
    });
    expect(hostPid).toBeGreaterThan(0);
    main.kill('SIGKILL');
    await waitUntil(() => !alive(hostPid), 5000);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
