import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CEREMONY_TEMPLATES } from '../../../shared/ceremony/script.std';
import type {
  CeremonyReview,
  CeremonyView,
  TranscriptExport,
  TranscriptVerification,
} from '../../../shared/contract/ceremony.std';
import { pgpWordsOfHex } from '../../../shared/formats/pgp-words.std';
import { openApp } from '../../helpers/app';
import { mkmOn, type CliRun } from '../../helpers/mkm-cli';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { ok as channelOk } from '../faults/ceremony-drive';
import { logInWithSigningKey } from './ceremony-app';

/**
 * `mkm ceremony ...` as an officer or an auditor runs it: a real SoftHSM2 token, a ceremony run
 * through the app's registry (started, an administrator identified, aborted: an aborted ceremony
 * is closed by a signed transcript too), then the CLI in a process of its own on the same data
 * folder, and transcript files changed on purpose.
 */
const PASS = 'a long ceremony passphrase';
const PARAMS = { template: 'form-key', keyType: 'aes-256', components: 2, label: 'zmk', purpose: 'kek' };
/** The same parameters as the CLI's flags. */
const REVIEW = [
  'ceremony',
  'review',
  '--template',
  'form-key',
  '--key-type',
  'aes-256',
  '--components',
  '2',
  '--label',
  'zmk',
  '--purpose',
  'kek',
];
const root = join(import.meta.dirname, '../../..');
const run = promisify(execFile);
let token: SoftHsmToken;
let dataDir: string;
let work: string;
let ceremony: CeremonyView;
let review: CeremonyReview;
let signer: string;

const mkm = (args: string[]) => mkmOn(() => ({ dataDir, token }))(args, token.userPin);
const file = (name: string) => join(work, name);

/** A refusal: exit 1 (2 for a wrong command line) and one `mkm: ... [CODE]` line on stderr. */
async function refused(run: Promise<CliRun>, code: string): Promise<void> {
  const r = await run;
  expect(r.code, r.stdout + r.stderr).toBe(code === 'USAGE' ? 2 : 1);
  expect(r.stderr).toContain(`[${code}]`);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
}

async function ok(run: Promise<CliRun>): Promise<string> {
  const r = await run;
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r.stdout;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function changed(name: string, edit: (record: any) => void): string {
  const record = JSON.parse(readFileSync(file('t.mkmx'), 'utf8'));
  edit(record);
  writeFileSync(file(name), JSON.stringify(record, null, 2));
  return file(name);
}

beforeAll(async () => {
  token = createSoftHsmToken({ label: 'ceremony-cli', userPin: '4417-cc', setProcessEnv: true });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-ceremony-cli-data-'));
  work = mkdtempSync(join(tmpdir(), 'mkm-ceremony-cli-work-'));
  const app = openApp(dataDir, token.modulePath);
  const call = <T>(channel: string, request?: unknown) => channelOk<T>(app, channel, request);
  try {
    const signingKeyId = await logInWithSigningKey(app, token, 'rsa-3072');
    review = await call<CeremonyReview>('ceremony.review', PARAMS);
    ceremony = await call<CeremonyView>('ceremony.start', {
      params: PARAMS,
      slotId: token.slotId,
      signingKeyId,
    });
    await call('ceremony.enroll', {
      id: ceremony.id,
      name: 'Alice Admin',
      role: 'administrator',
      passphrase: PASS,
      acknowledged: true,
    });
    await call('ceremony.abort', {
      id: ceremony.id,
      actor: { participantId: 'p-1', passphrase: PASS },
      reason: 'the drill is over',
    });
    const exported = await call<TranscriptExport>('ceremony.transcript', { id: ceremony.id });
    signer = exported.signer;
    // The file the verify tests read, made by the app: they do not lean on `mkm ceremony transcript`.
    writeFileSync(file('t.mkmx'), exported.text);
  } finally {
    await app.close();
  }
}, 120_000);

afterAll(() => {
  token?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('mkm ceremony transcript', () => {
  it('writes the signed transcript where told, and never over a file without --force', async () => {
    const out = await ok(mkm(['ceremony', 'transcript', ceremony.id, '--out', file('cli.mkmx')]));
    expect(out).toContain(`wrote ${file('cli.mkmx')}`);
    expect(out).toContain(signer);
    expect(readFileSync(file('cli.mkmx'), 'utf8')).toBe(readFileSync(file('t.mkmx'), 'utf8'));

    writeFileSync(file('cli.mkmx'), 'kept');
    await refused(
      mkm(['ceremony', 'transcript', ceremony.id, '--out', file('cli.mkmx')]),
      'DESTINATION_EXISTS',
    );
    expect(readFileSync(file('cli.mkmx'), 'utf8')).toBe('kept');
    await ok(mkm(['ceremony', 'transcript', ceremony.id.slice(0, 8), '--out', file('cli.mkmx'), '--force']));
    expect(readFileSync(file('cli.mkmx'), 'utf8')).toBe(readFileSync(file('t.mkmx'), 'utf8'));
    await refused(
      mkm(['ceremony', 'transcript', ceremony.id, '--out', join(dataDir, 'inside.mkmx')]),
      'DESTINATION_IN_DATA_FOLDER',
    );
    expect(existsSync(join(dataDir, 'inside.mkmx'))).toBe(false);
  });
});

describe('mkm ceremony verify-transcript', () => {
  it('accepts the transcript and prints what it verified', async () => {
    const out = await ok(mkm(['ceremony', 'verify-transcript', file('t.mkmx'), '--signer', signer]));
    expect(out).toContain('VERIFIED');
    expect(out).toContain('signer is the expected fingerprint');
    for (const text of [ceremony.id, 'form-key', ceremony.title, 'aborted', signer, 'Alice Admin']) {
      expect(out).toContain(text);
    }
    const entries = JSON.parse(readFileSync(file('t.mkmx'), 'utf8')).entries.length as number;
    expect(out).toMatch(new RegExp(`entries\\s+${entries}\\n`));

    const json = JSON.parse(
      await ok(mkm(['--json', 'ceremony', 'verify-transcript', file('t.mkmx'), '--signer', signer])),
    ) as TranscriptVerification & { signerChecked: boolean };
    expect(json).toMatchObject({
      verified: true,
      ceremonyId: ceremony.id,
      template: 'form-key',
      title: ceremony.title,
      state: 'aborted',
      signer,
      entries,
      signerChecked: true,
      participants: [{ name: 'Alice Admin', role: 'administrator' }],
    });
  });

  it('needs no token: an auditor’s machine with no library and no PIN verifies it', async () => {
    const auditor = mkdtempSync(join(tmpdir(), 'mkm-ceremony-cli-auditor-'));
    try {
      const r = await run(
        process.execPath,
        [
          join(root, 'bin/mkm.mjs'),
          '--data-dir',
          auditor,
          'ceremony',
          'verify-transcript',
          file('t.mkmx'),
          '--signer',
          signer,
        ],
        { env: { ...process.env, MKM_PIN: '' } },
      );
      expect(r.stdout).toContain('VERIFIED');
      expect(r.stdout).toContain(ceremony.id);
    } finally {
      rmSync(auditor, { recursive: true, force: true });
    }
  });

  it('says so when no signer was given to compare', async () => {
    const out = await ok(mkm(['ceremony', 'verify-transcript', file('t.mkmx')]));
    expect(out).toContain('the signer was NOT compared');
    const json = JSON.parse(await ok(mkm(['--json', 'ceremony', 'verify-transcript', file('t.mkmx')])));
    expect(json.signerChecked).toBe(false);
  });

  it('refuses a copy with one entry changed', async () => {
    const path = changed('entry.mkmx', (r) => {
      r.entries[1].details.note = 'added later';
    });
    await refused(
      mkm(['ceremony', 'verify-transcript', path, '--signer', signer]),
      'TRANSCRIPT_CHAIN_BROKEN',
    );
    const r = await mkm(['--json', 'ceremony', 'verify-transcript', path]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('TRANSCRIPT_CHAIN_BROKEN');
  });

  it('refuses a changed title', async () => {
    const path = changed('title.mkmx', (r) => {
      r.ceremony.title = 'Nothing happened here';
    });
    await refused(mkm(['ceremony', 'verify-transcript', path]), 'TRANSCRIPT_SIGNATURE_INVALID');
  });

  it('refuses a transcript signed by another key than the one given', async () => {
    await refused(
      mkm(['ceremony', 'verify-transcript', file('t.mkmx'), '--signer', 'ab'.repeat(32)]),
      'TRANSCRIPT_SIGNER_UNEXPECTED',
    );
  });

  it('refuses what is not a transcript, or no file at all', async () => {
    writeFileSync(file('junk.mkmx'), 'not json');
    await refused(mkm(['ceremony', 'verify-transcript', file('junk.mkmx')]), 'TRANSCRIPT_FORMAT_INVALID');
    await refused(mkm(['ceremony', 'verify-transcript', file('absent.mkmx')]), 'NOT_FOUND');
  });
});

describe('mkm ceremony review, templates, list, status', () => {
  it('review prints each step, who does it, and the hash ceremony.review gives, in hex and words', async () => {
    const out = await ok(mkm(REVIEW));
    expect(out).toContain(review.scriptHash);
    expect(out).toContain(pgpWordsOfHex(review.scriptHash).join(' '));
    for (const step of review.script.steps) expect(out).toContain(step.title);
    expect(out).toContain('by custodian (dual control)');
    expect(review.scriptHash).toBe(ceremony.scriptHash);

    const json = JSON.parse(await ok(mkm(['--json', ...REVIEW]))) as CeremonyReview;
    expect(json.scriptHash).toBe(review.scriptHash);
  });

  it('review refuses a parameter the template does not take, and a missing one', async () => {
    await refused(
      mkm([
        'ceremony',
        'review',
        '--template',
        'share-drill',
        '--shares',
        '3',
        '--threshold',
        '2',
        '--label',
        'x',
      ]),
      'USAGE',
    );
    await refused(mkm(['ceremony', 'review', '--template', 'form-key', '--label', 'x']), 'VALIDATION');
  });

  it('templates lists every template', async () => {
    const out = await ok(mkm(['ceremony', 'templates']));
    for (const t of CEREMONY_TEMPLATES) expect(out).toContain(t);
  });

  it('list and status show the ceremony as it stands', async () => {
    const list = await ok(mkm(['ceremony', 'list']));
    expect(list).toMatch(new RegExp(`${ceremony.id}\\s+aborted\\s+form-key`));

    const status = await ok(mkm(['ceremony', 'status', ceremony.id.slice(0, 8)]));
    for (const text of [ceremony.id, ceremony.title, 'aborted', ceremony.scriptHash, 'Alice Admin']) {
      expect(status).toContain(text);
    }
    const view = JSON.parse(await ok(mkm(['--json', 'ceremony', 'status', ceremony.id]))) as CeremonyView;
    expect(view.state).toBe('aborted');
    expect(view.participants.map((p) => p.name)).toEqual(['Alice Admin']);
    await refused(mkm(['ceremony', 'status', '00000000-0000-4000-8000-000000000000']), 'CEREMONY_NOT_FOUND');
  });
});
