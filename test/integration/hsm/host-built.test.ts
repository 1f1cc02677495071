import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HsmClient } from '../../../electron/hsm/client.main';
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
  await build({
    entryPoints: [resolve('electron/hsm/host/host.host.ts')],
    outfile: join(dir, 'hsm-host.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['pkcs11js'],
    // CommonJS dependencies require Node built-ins; an ESM bundle needs a real `require` for that.
    banner: {
      js: "import { createRequire as __mkmRequire } from 'node:module'; const require = __mkmRequire(import.meta.url);",
    },
    logLevel: 'silent',
  });
});

afterAll(() => {
  hsm?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the bundled host entry', () => {
  it('starts without tsx and serves calls', async () => {
    const client = new HsmClient({ hostEntry: join(dir, 'hsm-host.mjs'), env: hsm.env });
    try {
      await client.start();
      await client.call('loadModule', { path: hsm.modulePath });
      await client.call('login', { slotId: hsm.slotId, pin: hsm.userPin });
      const slots = await client.call('listSlots');
      expect(slots.find((s) => s.slotId === hsm.slotId)?.session).toMatchObject({ loggedIn: true });
    } finally {
      await client.stop();
    }
  });
});
