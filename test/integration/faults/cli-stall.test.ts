import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WAITING_NOTICE_MS } from '../../../electron/hsm/client.nodejs';
import { createFaultyModule, faultyModuleAvailable, type FaultyModule } from '../../helpers/faulty-module';
import { mkmOn } from '../../helpers/mkm-cli';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { faultCase } from './setup';

/**
 * `mkm` (a real process, its own token host) over the fault-injecting module: a key generation
 * the token holds up longer than the "waiting" notice says so on stderr while it waits, and that
 * the token answered; stdout stays the command's result. The stall is the token's (the module
 * sleeps inside C_GenerateKey), not the test's.
 */
const available = faultyModuleAvailable();
let hsm: SoftHsmToken;
let faulty: FaultyModule;
let dataDir: string;

afterAll(() => {
  faulty?.cleanup();
  hsm?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe.skipIf(!available)('the CLI with a token that is slow to answer', () => {
  it('says on stderr that it waits on the token, then that the token answered', () =>
    faultCase('stall', 'C_GenerateKey#1 stall, CLI', async () => {
      hsm = createSoftHsmToken({ label: 'faults-cli-stall', setProcessEnv: false });
      faulty = createFaultyModule({ setProcessEnv: false });
      dataDir = mkdtempSync(join(tmpdir(), 'mkm-faults-cli-'));
      const cli = mkmOn(
        () => ({ dataDir, token: { modulePath: faulty.path, slotId: hsm.slotId, confPath: hsm.confPath } }),
        faulty.env,
      );
      faulty.control([`C_GenerateKey 1 stall ${WAITING_NOTICE_MS + 1500}`]);
      const r = await cli(
        ['--json', 'keys', 'generate', '--type', 'aes-256', '--label', 'cli-stalled'],
        hsm.userPin,
      );
      expect(faulty.stats().fired).toMatchObject([{ fn: 'C_GenerateKey', call: 1, action: 'stall' }]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^Waiting on the token: no answer to generateKey for \d+ s\./m);
      expect(r.stderr).toMatch(/^The token answered after \d+ s; continuing…$/m);
      expect(JSON.parse(r.stdout)).toMatchObject({ label: 'cli-stalled' });
    }));
});
