import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kcv } from '../../../electron/crypto/kcv.nodejs';
import type { CeremonyView } from '../../../shared/contract/ceremony.std';
import { CLEAR_SCREEN } from '../../../electron/cli/ceremony-prompt.cli';
import { componentChecksum, groupComponent } from '../../../shared/formats/component-entry.std';
import type { ComponentKeyType } from '../../../shared/formats/components.std';
import { setOddParity } from '../../../shared/formats/des-keys.std';
import { openApp } from '../../helpers/app';
import { mkmArgv, mkmEnv, mkmOn, type CliRun, type CliTarget } from '../../helpers/mkm-cli';
import { filesUnder } from '../../helpers/scan';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { logInWithSigningKey } from './ceremony-app';

/**
 * `mkm ceremony form-key` as a script runs it, stdin not a terminal: components one hex line each,
 * people and where their passphrases are in --participants, passphrases in the environment. A
 * real SoftHSM2 token, the CLI in a process of its own; the key is formed on the token, the
 * transcript signed and verified; and no file the runs wrote, nor anything they printed, holds a
 * component or a key in any usual spelling.
 */

const TDES_KEY = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex');
let token: SoftHsmToken;
let dataDir: string;
let work: string;
let signingKeyId: string;
/** Every component and key the tests used, and every stdout and stderr they captured. */
const secrets: Uint8Array[] = [];
const captured: string[] = [];

const here = (): CliTarget => ({ dataDir, token });

/** `mkm` on this test's data folder and token, reading `stdin`; what it printed is kept. */
async function mkm(args: string[], stdin: string, env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const r = await mkmOn(here, env)(args, token.userPin, stdin);
  captured.push(r.stdout, r.stderr);
  return r;
}

/**
 * A run killed (SIGKILL: no clean-up of its own) once its stderr shows `when`; stdin stays open
 * after `stdin`, so the run waits for the next component there. Resolves with the ceremony id.
 */
function killedRun(args: string[], stdin: string, env: NodeJS.ProcessEnv, when: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, mkmArgv(here(), args), { env: mkmEnv(here(), env, token.userPin) });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (when.test(stderr)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', () => {
      captured.push(stderr);
      const id = /ceremony\s+([0-9a-f-]{36})/.exec(stderr)?.[1];
      if (id && when.test(stderr)) resolve(id);
      else reject(new Error(`the run ended before ${when}: ${stderr}`));
    });
    child.stdin.write(stdin);
  });
}

/**
 * A run at a terminal (a pseudo-terminal driven by Python's pty): each prompt answered from
 * `script` by the first pattern it contains; `{pass}` is the passphrase of whoever the prompt
 * names. Resolves with the exit code and everything the terminal showed.
 */
function onTerminal(args: string[], script: string[][]): Promise<{ code: number; screen: string }> {
  const driver = `
import json, os, pty, re, select, sys, time
args, script = json.loads(sys.argv[1]), json.loads(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(args[0], args)
screen, pending, last, deadline = b'', b'', 'nobody', time.time() + 100
while time.time() < deadline:
    if not select.select([fd], [], [], 1)[0]:
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    screen += chunk; pending += chunk
    text = pending.decode('utf8', 'replace')
    if not re.search(r'(: |\\] )$', text):
        continue
    prompt = re.split(r'[\\r\\n]', text)[-1]
    for pattern, answer in script:
        if pattern in prompt:
            name = re.findall(r'([A-Z][a-z]+ [A-Z][a-z]+)(?:,| \\()', prompt)
            last = name[-1] if name else last
            if answer == '{pass}':
                answer = last + ' types a long passphrase'
            time.sleep(0.05)
            os.write(fd, answer.encode() + b'\\r')
            pending = b''
            break
if time.time() >= deadline:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(screen)
sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, 'waitstatus_to_exitcode') else status >> 8)
`;
  const argv = [process.execPath, ...mkmArgv(here(), args)];
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', driver, JSON.stringify(argv), JSON.stringify(script)], {
      env: mkmEnv(here(), {}, token.userPin),
    });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    child.stderr.on('data', (d: Buffer) => (screen += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, screen }));
  });
}

/** The participants file of a run, and the environment holding their passphrases. */
function room(custodians: string[], tag: string) {
  const person = (name: string, i: number) => ({
    name,
    acknowledged: true,
    passphraseEnv: `MKM_TEST_PASS_${tag}_${i}`,
  });
  const names = ['Alice Admin', 'Walter Witness', ...custodians];
  const file = join(work, `people-${tag}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      administrator: person(names[0]!, 0),
      witness: person(names[1]!, 1),
      custodians: custodians.map((c, i) => person(c, i + 2)),
    }),
  );
  const env = Object.fromEntries(
    names.map((n, i) => [`MKM_TEST_PASS_${tag}_${i}`, `${n}'s long passphrase`]),
  );
  return { file, env };
}

function formKeyArgs(type: ComponentKeyType, count: number, label: string, people: string): string[] {
  return [
    'ceremony',
    'form-key',
    '--type',
    type,
    '--components',
    String(count),
    '--label',
    label,
    '--purpose',
    'kek',
    '--signing-key',
    signingKeyId,
    '--participants',
    people,
    // The test machine has a network interface up; the transcript records the override.
    '--air-gap-override',
    'CI runner with a virtual network interface',
  ];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();
const xor = (parts: Uint8Array[]) => parts.reduce((a, b) => a.map((x, i) => x ^ b[i]!));
const kcvs = (type: ComponentKeyType, bytes: Uint8Array) => [
  { method: 'legacy', kcv: kcv(type, bytes, 'legacy').kcv.toUpperCase() },
  { method: 'cmac', kcv: kcv(type, bytes, 'cmac').kcv.toUpperCase() },
];
/** A TDES component: random, every byte of odd parity, as a real one is. */
const tdesComponent = () => setOddParity(new Uint8Array(randomBytes(16)));

async function ceremonies(): Promise<CeremonyView[]> {
  const r = await mkm(['--json', 'ceremony', 'list'], '');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as CeremonyView[];
}

beforeAll(async () => {
  token = createSoftHsmToken({ label: 'form-key-cli', userPin: '5521-fk', setProcessEnv: true });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-form-key-cli-data-'));
  work = mkdtempSync(join(tmpdir(), 'mkm-form-key-cli-work-'));
  const app = openApp(dataDir, token.modulePath);
  try {
    signingKeyId = await logInWithSigningKey(app, token);
  } finally {
    await app.close();
  }
}, 120_000);

afterAll(() => {
  token?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('mkm ceremony form-key, components on stdin', () => {
  it('AES-256 from 2 components: each component’s KCVs and the key’s, in --json, the transcript signed', async () => {
    const parts = [new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32))];
    const key = xor(parts);
    secrets.push(...parts, key);
    const { file, env } = room(['Cora One', 'Carl Two'], 'aes');
    // The first line grouped by four as a sheet prints it, the second plain lower case.
    const stdin = `${groupComponent(parts[0]!)}\n${Buffer.from(parts[1]!).toString('hex')}\n`;
    const r = await mkm(['--json', ...formKeyArgs('aes-256', 2, 'zmk-aes', file)], stdin, env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      state: 'completed',
      title: 'Form AES-256 key “zmk-aes” from 2 components',
      components: [
        { index: 1, custodian: 'Cora One', kcvs: kcvs('aes-256', parts[0]!), confirmed: false },
        { index: 2, custodian: 'Carl Two', kcvs: kcvs('aes-256', parts[1]!), confirmed: false },
      ],
      key: { label: 'zmk-aes', type: 'aes-256', purpose: 'kek', kcvs: kcvs('aes-256', key) },
      transcript: { entries: expect.any(Number), signer: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    expect(out.key.id).toMatch(/^[0-9a-f]+$/);
    expect(out.key.tokenKcv).toBe(kcv('aes-256', key, 'legacy').kcv.toUpperCase());
    expect(Object.keys(out).sort()).toEqual(
      ['ceremonyId', 'components', 'key', 'scriptHash', 'state', 'title', 'transcript'].sort(),
    );

    // The ceremony is on record: every participant signed off, the key formed on the token.
    const view = (await ceremonies()).find((c) => c.id === out.ceremonyId)!;
    expect(view.state).toBe('completed');
    expect(view.participants.every((p) => p.signedOff)).toBe(true);
    expect(view.facts.keyId).toBe(out.key.id);
    const keys = await mkm(['--json', 'keys', 'list'], '');
    expect(keys.stdout).toContain('zmk-aes');

    // The transcript the run signed verifies with the signer it announced.
    const t = join(work, 'aes.mkmx');
    expect((await mkm(['ceremony', 'transcript', out.ceremonyId, '--out', t], '')).code).toBe(0);
    const verified = await mkm(['ceremony', 'verify-transcript', t, '--signer', out.transcript.signer], '');
    expect(verified.stdout).toContain('VERIFIED');
    expect(verified.stdout).toContain('Carl Two');
    expect(readFileSync(t, 'utf8')).toContain('CI runner with a virtual network interface');

    // The same transcript to print: every entry of the signed record is there.
    const entries = JSON.parse(readFileSync(t, 'utf8')).entries as { hash: string }[];
    for (const format of ['html', 'pdf']) {
      const printed = await mkm(
        ['ceremony', 'transcript', out.ceremonyId, '--out', `${t}.${format}`, '--format', format],
        '',
      );
      expect(printed.code, printed.stderr).toBe(0);
      expect(printed.stdout).toContain(`(${format}, ${entries.length} entries)`);
    }
    const html = readFileSync(`${t}.html`, 'utf8');
    for (const e of entries) expect(html).toContain(e.hash);
    expect(html).toContain('Cora One');
    expect(readFileSync(`${t}.pdf`).subarray(0, 5).toString()).toBe('%PDF-');
  }, 180_000);

  it('TDES 2-key from 3 components: the key of the known answer, legacy KCV 08D7B4, sheet KCVs confirmed', async () => {
    // Two random components of odd parity; the third makes the XOR the known key (three odd
    // bytes XOR to an odd one, so it is of odd parity too).
    const parts = [tdesComponent(), tdesComponent()];
    parts.push(xor([new Uint8Array(TDES_KEY), ...parts]));
    secrets.push(...parts, new Uint8Array(TDES_KEY));
    const sheet = parts.map((p) => kcv('tdes-2key', p, 'legacy').kcv).join(',');
    const { file, env } = room(['Cora One', 'Carl Two', 'Cody Three'], 'tdes');
    const r = await mkm(
      [...formKeyArgs('tdes-2key', 3, 'zmk-tdes', file), '--confirm-kcvs', sheet],
      parts.map(hex).join('\n') + '\n',
      env,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/key KCV\s+08D7B4 \(legacy\)/);
    for (const [i, p] of parts.entries()) {
      expect(r.stdout).toContain(
        `component ${i + 1}      ${kcv('tdes-2key', p, 'legacy').kcv.toUpperCase()} (legacy)`,
      );
    }
    expect(r.stdout).toContain('KCV confirmed');
    // What the room compares aloud went to stderr: the script hash in hex and words.
    expect(r.stderr).toMatch(/script words\s+\w+ \w+/);
  }, 180_000);

  it('a TDES component of even parity is refused with its code, naming the byte; the ceremony is aborted', async () => {
    const good = tdesComponent();
    const bad = tdesComponent();
    bad[5] = bad[5]! ^ 0x01; // byte 6 now of even parity
    secrets.push(good, bad);
    const before = (await ceremonies()).length;
    const { file, env } = room(['Cora One', 'Carl Two'], 'parity');
    const r = await mkm(formKeyArgs('tdes-2key', 2, 'zmk-parity', file), `${hex(good)}\n${hex(bad)}\n`, env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[COMPONENT_PARITY_INVALID]');
    expect(r.stderr).toContain('Component 2 has even parity in byte 6 (digits 11 and 12)');
    const list = await ceremonies();
    expect(list).toHaveLength(before + 1);
    // Nothing was formed, nothing left running (gateway calls would be refused meanwhile).
    expect(list[0]!.state).toBe('aborted');
    expect(list[0]!.facts.keyId).toBeUndefined();
    expect((await mkm(['--json', 'keys', 'list'], '')).stdout).not.toContain('zmk-parity');
  }, 180_000);

  it('the same custodian twice is refused before anything starts', async () => {
    const before = (await ceremonies()).length;
    const { file, env } = room(['Cora One', 'cora one'], 'twice');
    const r = await mkm(formKeyArgs('aes-128', 2, 'zmk-twice', file), '', env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[CEREMONY_DUAL_CONTROL]');
    expect(await ceremonies()).toHaveLength(before);
  }, 60_000);

  it('refuses to run without a participants file or a passphrase when stdin is not a terminal', async () => {
    const r = await mkm(
      ['ceremony', 'form-key', '--type', 'aes-128', '--components', '2', '--label', 'x'],
      '',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--participants');
    const { file } = room(['Cora One', 'Carl Two'], 'noenv');
    const missing = await mkm(formKeyArgs('aes-128', 2, 'zmk-noenv', file), '');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('MKM_TEST_PASS_noenv_0');
  }, 60_000);

  it('a run killed before any component resumes with --resume: the same people, the ceremony completes', async () => {
    const parts = [new Uint8Array(randomBytes(16)), new Uint8Array(randomBytes(16))];
    secrets.push(...parts, xor(parts));
    const { file, env } = room(['Cora One', 'Carl Two'], 'resume');
    const id = await killedRun(formKeyArgs('aes-128', 2, 'zmk-resume', file), '', env, /preflight\s+/);
    const left = (await ceremonies()).find((c) => c.id === id)!;
    expect(left.state).toBe('running');
    // Killed just after the preflight: the identification may or may not have been journaled.
    expect(['identify', 'enter-component-1']).toContain(left.current);

    const r = await mkm(
      ['--json', 'ceremony', 'form-key', '--resume', id, '--participants', file],
      parts.map(hex).join('\n') + '\n',
      env,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      ceremonyId: id,
      state: 'completed',
      key: { label: 'zmk-resume', kcvs: kcvs('aes-128', xor(parts)) },
    });
    expect(out.components.map((c: { index: number }) => c.index)).toEqual([1, 2]);
  }, 180_000);

  it('a run killed after a component cannot finish: --resume aborts it with CEREMONY_TRANSPORT_KEY_GONE', async () => {
    const first = new Uint8Array(randomBytes(16));
    secrets.push(first);
    const { file, env } = room(['Cora One', 'Carl Two'], 'gone');
    const id = await killedRun(
      formKeyArgs('aes-128', 2, 'zmk-gone', file),
      `${hex(first)}\n`,
      env,
      /component 1 KCV/,
    );
    expect((await ceremonies()).find((c) => c.id === id)!.current).toBe('enter-component-2');

    const r = await mkm(['ceremony', 'form-key', '--resume', id, '--participants', file], '', env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[CEREMONY_TRANSPORT_KEY_GONE]');
    const view = (await ceremonies()).find((c) => c.id === id)!;
    expect(view.state).toBe('aborted');
    expect(view.facts.keyId).toBeUndefined();
  }, 180_000);

  it('at a terminal: each person types their name and passphrase, each custodian a masked component; the screen is cleared between them', async () => {
    const parts = [tdesComponent(), tdesComponent()];
    const key = setOddParity(xor(parts));
    secrets.push(...parts, key);
    const script = [
      ['Name of the administrator', 'Alice Admin'],
      ['Name of the witness', 'Walter Witness'],
      ['Name of the custodian 1', 'Cora One'],
      ['Name of the custodian 2', 'Carl Two'],
      ['acknowledge', 'yes'],
      ['choose your passphrase', '{pass}'],
      ['same passphrase again', '{pass}'],
      ['your passphrase to', '{pass}'],
      ['Component 1 (32 hex digits)', groupComponent(parts[0]!)],
      ['Component 2 (32 hex digits)', hex(parts[1]!)],
      ['Does it match your sheet', 'yes'],
      ['The KCV on your sheet', ''],
      ['Is it the KCV of your component', 'yes'],
      ['Press Enter to clear the screen', ''],
    ];
    const args = formKeyArgs('tdes-2key', 2, 'zmk-tty', '-').filter(
      (a, i, all) => a !== '--participants' && all[i - 1] !== '--participants',
    );
    const r = await onTerminal(args, script);
    expect(r.code, r.screen).toBe(0);
    // What the terminal showed: masked groups, the checksum, the KCVs, the screen cleared.
    expect(r.screen).toContain('•••• •••• •••• •••• •••• •••• •••• ••••');
    expect(r.screen).toContain(`Checksum of what you typed: ${componentChecksum(parts[0]!)}`);
    expect(r.screen).toContain(
      `Component 2 KCV: ${kcv('tdes-2key', parts[1]!, 'legacy').kcv.toUpperCase()} (legacy)`,
    );
    expect(r.screen.split(CLEAR_SCREEN).length).toBeGreaterThan(4);
    expect(r.screen).toMatch(
      new RegExp(`key KCV\\s+${kcv('tdes-2key', key, 'legacy').kcv.toUpperCase()} \\(legacy\\)`),
    );
    expect(r.screen).toContain('(completed)');
    captured.push(r.screen);
  }, 180_000);

  it('leaves no component or key in any file it wrote, the transcripts included, nor in anything it printed', () => {
    expect(secrets.length).toBeGreaterThan(0);
    const forms = secrets.flatMap((s) => {
      const b = Buffer.from(s);
      const h = b.toString('hex');
      return [
        h,
        h.toUpperCase(),
        b.toString('base64'),
        b.toString('base64').replace(/=+$/, ''),
        b.toString('base64url'),
        groupComponent(s),
        groupComponent(s).toLowerCase(),
      ];
    });
    const found: string[] = [];
    // The data folder, and the transcripts (signed and printed) the runs wrote outside it.
    for (const f of [...filesUnder(dataDir), ...filesUnder(work)]) {
      const raw = readFileSync(f);
      const text = raw.toString('latin1');
      for (const form of forms) if (text.includes(form)) found.push(`${f}: ${form.slice(0, 4)}…`);
      for (const s of secrets) if (raw.includes(Buffer.from(s))) found.push(`${f}: raw bytes`);
    }
    for (const [i, text] of captured.entries()) {
      for (const form of forms) if (text.includes(form)) found.push(`capture ${i}: ${form.slice(0, 4)}…`);
    }
    expect(found).toEqual([]);
  });
});
