import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import type { ConsoleMessageResult } from '../../../shared/contract/console.std';
import { gatewayAddArgs, mkmOn } from '../../helpers/mkm-cli';
import { findSecrets } from '../../helpers/scan';
import { createSoftHsmToken, softHsmAvailable, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * `mkm console encrypt|verify|message|decrypt` as a developer runs them: values from stdin or
 * the environment (never argv in these runs), the sandbox gateway, a SoftHSM2 token.
 */
const USER = 'console-cli';
const PASSWORD = 'console cli pass 7781';
const PAN = '5555555555554444';
const CVV = '737';
let token: SoftHsmToken;
let sandbox: SandboxHandle;
let sandboxDir: string;
let dataDir: string;

const mkmRun = mkmOn(() => ({ dataDir, token }), { MKM_GATEWAY_PASSWORD: PASSWORD });
const mkm = (args: string[]) => mkmRun(args, token.userPin);
/** mkm reading `input` on stdin, with `env` besides. */
const mkmStdin = (args: string[], input: string, env: NodeJS.ProcessEnv = {}) =>
  mkmOn(() => ({ dataDir, token }), { MKM_GATEWAY_PASSWORD: PASSWORD, ...env })(args, token.userPin, input);

beforeAll(async () => {
  token = createSoftHsmToken({ label: 'console-cli', userPin: '5521-cli', setProcessEnv: false });
  sandboxDir = mkdtempSync(join(tmpdir(), 'mkm-console-cli-sandbox-'));
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-console-cli-data-'));
  sandbox = await startSandbox({ port: 0, dataDir: sandboxDir, users: [{ name: USER, password: PASSWORD }] });
  const steps = [
    gatewayAddArgs({
      name: 'Sandbox',
      url: sandbox.url,
      user: USER,
      pin: sandbox.pin,
      cse: 'pkcs1',
      keyRolling: true,
    }),
    ['keys', 'generate', '--type', 'rsa-2048', '--label', 'cli-transport', '--purpose', 'gateway-transport'],
    ['gateway', 'register', 'cli-transport'],
    ['gateway', 'fetch-key'],
  ];
  for (const step of steps) {
    const r = await mkm(step);
    if (r.code !== 0) throw new Error(`${step.join(' ')}: ${r.stderr}`);
  }
}, 120_000);
afterAll(async () => {
  await sandbox?.close();
  token?.cleanup();
  rmSync(sandboxDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

describe.runIf(softHsmAvailable())('mkm console', () => {
  it('encrypt with a scheme the gateway cannot decrypt fails with SCHEME_MISMATCH without --override-scheme', async () => {
    const r = await mkmStdin(
      ['console', 'encrypt', '--scheme', 'paytrace', '--field', 'number=-'],
      `${PAN}\n`,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot decrypt RSAES-PKCS1-V1_5.*\[SCHEME_MISMATCH\]/);
    expect(r.stdout).toBe('');
  });

  it('encrypt reads the card number from stdin and the CVV from the environment; the body decrypts with node-forge', async () => {
    const r = await mkmStdin(
      [
        '--json',
        'console',
        'encrypt',
        '--scheme',
        'paytrace',
        '--override-scheme',
        '--field',
        'number=-',
        '--field',
        'exp=11/29',
        '--field',
        'csc=env:TEST_CVV',
      ],
      `${PAN}\n`,
      { TEST_CVV: CVV },
    );
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as {
      body: { credit_card: { encrypted_number: string }; encrypted_csc: string };
    };
    const pem = readFileSync(
      join(
        sandboxDir,
        'gateway-keys',
        `${(JSON.parse(readFileSync(join(sandboxDir, 'state.json'), 'utf8')) as { gateway_keys: { current: { key_id: string } } }).gateway_keys.current.key_id}.pem`,
      ),
      'utf8',
    );
    const key = forge.pki.privateKeyFromPem(pem);
    expect(
      key.decrypt(forge.util.decode64(result.body.credit_card.encrypted_number), 'RSAES-PKCS1-V1_5'),
    ).toBe(PAN);
    expect(key.decrypt(forge.util.decode64(result.body.encrypted_csc), 'RSAES-PKCS1-V1_5')).toBe(CVV);
    expect(r.stdout).not.toContain(PAN);
  });

  it('encrypt --curl prints a curl line with a placeholder token; a bad field name is a usage error (exit 2)', async () => {
    const r = await mkmStdin(
      ['console', 'encrypt', '--scheme', 'oaep', '--field', 'number=-', '--field', 'exp=11/29', '--curl'],
      `${PAN}\n`,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^curl -sS -X POST '.*\/v1\/transactions\/sale\/keyed'/);
    expect(r.stdout).toContain("'Authorization: Bearer <ACCESS_TOKEN>'");
    expect(r.stdout).not.toContain(PAN);
    const literal = await mkm([
      'console',
      'compose',
      '--field',
      'number=4111111111111111',
      '--field',
      'exp=12/29',
    ]);
    expect(literal.code, literal.stderr).toBe(0);
    expect(literal.stderr).toMatch(
      /warning: the number given on the command line stays in shell history.*number=-/,
    );
    expect(literal.stdout).toMatch(/ok\s+number\s+Visa, 16 digits, Luhn check passes/);
    const bad = await mkm(['console', 'encrypt', '--field', 'colour=red']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Unknown field "colour".*\[USAGE\]/);
  });

  it('verify shows each field at both endpoints with the hash match', async () => {
    const r = await mkmStdin(
      ['console', 'verify', '--field', 'number=-', '--field', 'routing=011000015'],
      `${PAN}\n`,
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/\/v1\/encryption\/verify: all fields match/);
    expect(r.stdout).toMatch(/\/v1\/secure\/verify_payload: all fields match/);
    expect(r.stdout).toMatch(/ok\s+card_number\s+555555••••••4444 .*last4 4444 .*luhn ok .*hash match/);
    expect(r.stdout).not.toContain(PAN);
  });

  it('message --check seals in the token and opens it again; decrypt in another process names the set it lacks', async () => {
    const r = await mkm(['--json', 'console', 'message', '--text', '{"a":1}', '--check']);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as ConsoleMessageResult & { check: string };
    expect(m.check).toMatch(/MAC ok/);
    expect(m.parts.map((p) => p.name)).toEqual(['set_id', 'iv', 'ciphertext', 'mac']);
    const d = await mkmStdin(['console', 'decrypt', '--in', '-'], JSON.stringify(m.envelope));
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/\[(KEY_SET_UNKNOWN|NOT_FOUND)\]/);
  });

  it('no clear card number in the CLI data folder (logs, audit, gateway state)', () => {
    expect(findSecrets([dataDir], [PAN])).toEqual([]);
  });
});
