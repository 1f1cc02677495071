import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../electron/core/app.nodejs';
import { JournalStore } from '../../../electron/ceremony/journal.nodejs';
import { verifyTranscript } from '../../../electron/ceremony/transcript.nodejs';
import { kcv } from '../../../electron/crypto/kcv.nodejs';
import type { CeremonyView, TranscriptExport } from '../../../shared/contract/ceremony.std';
import { openApp } from '../../helpers/app';
import { parsePkcs11ToolObjects } from '../../helpers/pkcs11-tool';
import { tornFiles } from '../../helpers/real-token';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { KEY, PEOPLE, drive, ok, proofOf } from './ceremony-drive';
import { ALL_FAULTS, faultCase } from './setup';

/**
 * A key ceremony killed at every step (issue 11, Tests): a child process runs a form-key or a
 * split-key ceremony through the app (its channels, the real token host, SoftHSM2) and SIGKILLs
 * itself at one point: after each step is journaled, and inside the steps that make token
 * objects, once the object's id is journaled (before it exists) and once it exists (before the
 * step is journaled). Then a fresh app, as after a restart: the status says exactly the steps
 * done (the journal parses and its chain holds), and either the ceremony is carried to its end
 * (components the lost process held are entered or revealed again, half-made objects removed) or
 * it is aborted; the token, read straight through SoftHSM2, then holds the formed key and
 * nothing else new (completed) or nothing new at all (aborted), and the signed transcript
 * verifies. One token and one data folder for every case: what any case left behind shows.
 */
let hsm: SoftHsmToken;
let dataDir: string;
let signer: { id: string; spkiSha256: string };

type Template = 'form-key' | 'split-key';
const STEPS: Record<Template, string[]> = {
  'form-key': ['preflight', 'identify', 'enter-component-1', 'enter-component-2', 'form-key', 'sign-off'],
  'split-key': [
    'preflight',
    'identify',
    'generate-key',
    'reveal-component-1',
    'reveal-component-2',
    'sign-off',
  ],
};

interface Case {
  template: Template;
  kill: string;
  end: 'resume' | 'abort';
  /** Steps the fresh process does again: their result lived in the killed process's memory. */
  redo?: string[];
}
const cases: Case[] = [
  ...[
    'started',
    'enrolled:p-1',
    'enrolled:p-4',
    'step:preflight',
    'step:identify',
    'step:enter-component-1',
    'step:enter-component-2',
    'intended:form-key',
    'executed:form-key',
    'step:form-key',
    'signed-off:p-1',
    'signed-off:p-3',
    'recorded',
  ].map((kill): Case => ({
    template: 'form-key',
    kill,
    end: 'resume',
    redo:
      kill === 'step:enter-component-1'
        ? ['enter-component-1']
        : ['step:enter-component-2', 'intended:form-key', 'executed:form-key'].includes(kill)
          ? ['enter-component-1', 'enter-component-2']
          : [],
  })),
  ...[
    'started',
    'enrolled:p-2',
    'step:identify',
    'intended:generate-key',
    'executed:generate-key',
    'step:generate-key',
    'step:reveal-component-1',
    'step:reveal-component-2',
    'signed-off:p-2',
    'recorded',
  ].map((kill): Case => ({
    template: 'split-key',
    kill,
    end: 'resume',
    redo:
      kill === 'step:generate-key'
        ? ['generate-key']
        : kill === 'step:reveal-component-1'
          ? ['generate-key', 'reveal-component-1']
          : [],
  })),
  // Aborted where a half-made or orphaned object would be left if anything were.
  ...[
    'enrolled:p-4',
    'step:enter-component-2',
    'intended:form-key',
    'executed:form-key',
    'step:form-key',
  ].map((kill): Case => ({ template: 'form-key', kill, end: 'abort' })),
  ...['executed:generate-key', 'step:generate-key', 'step:reveal-component-1', 'signed-off:p-2'].map(
    (kill): Case => ({ template: 'split-key', kill, end: 'abort' }),
  ),
];

/**
 * `npm test`: inside the key-making steps (both ends), a lost component or key, the close cut
 * short; `npm run test:faults` (MKM_FAULTS=all): every case.
 */
const SPREAD = new Set([
  'form-key step:enter-component-1 resume',
  'form-key intended:form-key resume',
  'form-key executed:form-key abort',
  'form-key recorded resume',
  'split-key executed:generate-key resume',
  'split-key step:reveal-component-1 resume',
  'split-key step:generate-key abort',
]);
const picked = ALL_FAULTS ? cases : cases.filter((c) => SPREAD.has(`${c.template} ${c.kill} ${c.end}`));

/** The steps a kill point leaves journaled as done. */
function doneAt(template: Template, kill: string): string[] {
  const steps = STEPS[template];
  const [what, where] = kill.split(':') as [string, string | undefined];
  if (what === 'step') return steps.slice(0, steps.indexOf(where!) + 1);
  if (what === 'intended' || what === 'executed') return steps.slice(0, steps.indexOf(where!));
  if (what === 'signed-off' || what === 'recorded') return steps.slice(0, -1);
  return [];
}

function runChild(template: Template, kill: string): Promise<{ signal: string | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'ceremony-child.ts')],
      {
        env: {
          ...hsm.env,
          MKM_DATA: dataDir,
          MKM_MODULE: hsm.modulePath,
          MKM_SLOT: String(hsm.slotId),
          MKM_PIN: hsm.userPin,
          MKM_TEMPLATE: template,
          MKM_SIGNER: signer.id,
          MKM_KILL_AT: kill,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve({ signal, out }));
  });
}

/** Key objects on the token as `pkcs11-tool -O` lists them on SoftHSM2 (never through mkm). */
const keyObjects = () =>
  parsePkcs11ToolObjects(
    execFileSync(
      'pkcs11-tool',
      ['--module', hsm.modulePath, '--slot', String(hsm.slotId), '--login', '--pin', hsm.userPin, '-O'],
      { env: hsm.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ),
  )
    .filter((o) => / Key Object;/.test(o.kind!))
    .map((o) => `${o.kind!.split(' ')[0]!.toLowerCase()}:${o.ID}`)
    .sort();

async function freshApp(): Promise<App> {
  const app = openApp(dataDir, hsm.modulePath, { watchSlots: false });
  await ok(app, 'tokens.login', { slotId: hsm.slotId, pin: hsm.userPin });
  return app;
}

beforeAll(async () => {
  hsm = createSoftHsmToken({ label: 'faults-ceremony' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-faults-ceremony-'));
  const app = await freshApp();
  try {
    const made = await ok<{ id: string; spkiSha256: string }>(app, 'keys.generate', {
      slotId: hsm.slotId,
      type: 'rsa-2048',
      label: 'ceremony signer',
      purpose: 'signing',
    });
    signer = { id: made.id, spkiSha256: made.spkiSha256 };
  } finally {
    await app.close();
  }
}, 120_000);

afterAll(() => {
  hsm?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('a key ceremony killed at every step, in a child process', () => {
  for (const c of picked) {
    const name = `${c.template} killed at ${c.kill}, then ${c.end === 'resume' ? 'resumed to its end' : 'aborted'}`;
    it(name, () =>
      faultCase('ceremony', `${c.template} ${c.kill} ${c.end}`, async () => {
        const before = keyObjects();
        const known = new JournalStore(join(dataDir, 'ceremonies')).ids();
        const child = await runChild(c.template, c.kill);
        expect(child.signal, child.out).toBe('SIGKILL');

        const app = await freshApp();
        try {
          const store = new JournalStore(join(dataDir, 'ceremonies'));
          const [id] = store.ids().filter((x) => !known.includes(x));
          expect(id).toBeDefined();
          // What the journal says, read as it was left: it parses and its chain holds (load checks both).
          const left = store.load(id!);
          const view = await ok<CeremonyView>(app, 'ceremony.status', { id });
          expect(view.state).toBe('running');
          const done = doneAt(c.template, c.kill);
          expect(view.steps.filter((s) => s.done).map((s) => s.id)).toEqual(done);
          expect(view.current).toBe(STEPS[c.template][done.length]);
          const enrolled = /^enrolled:p-(\d)$/.exec(c.kill)?.[1];
          expect(view.participants).toHaveLength(c.kill === 'started' ? 0 : enrolled ? Number(enrolled) : 4);
          const signedOff = c.kill === 'recorded' ? 3 : Number(/^signed-off:p-(\d)$/.exec(c.kill)?.[1] ?? 0);
          expect(view.participants.filter((p) => p.signedOff)).toHaveLength(signedOff);

          // Inside a step that makes a key: its id is journaled first; the key exists only past the call.
          const intended = left.intents.flatMap((i) => i.keyIds);
          const inside = /^(intended|executed):/.exec(c.kill)?.[1];
          expect(intended).toHaveLength(inside ? 1 : 0);
          const onToken = keyObjects().filter((o) => !before.includes(o));
          if (inside === 'intended') expect(onToken).toEqual([]);
          if (inside === 'executed') expect(onToken).toEqual([`secret:${intended[0]}`]);
          const madeBefore = typeof view.facts.keyId === 'string' ? view.facts.keyId : null;

          if (c.end === 'abort') {
            const aborted = await ok<CeremonyView>(app, 'ceremony.abort', {
              id,
              actor: proofOf(view, PEOPLE[1].name),
              reason: 'crash drill: abort',
            });
            expect(aborted.state).toBe('aborted');
            // Nothing the ceremony made stays: no half-made key, no key of an aborted ceremony.
            expect(keyObjects()).toEqual(before);
          } else {
            const { view: end, revealed } = await drive(app, id!);
            expect(end.state).toBe('completed');
            expect(end.steps.every((s) => s.done)).toBe(true);
            const keyId = end.facts.keyId as string;
            // The formed or generated key and nothing else new; a key made before the crash whose
            // components were lost is gone (split-key makes it again).
            expect(keyObjects()).toEqual([...before, `secret:${keyId}`].sort());
            if (c.template === 'form-key') expect(end.facts.keyKcv).toBe(kcv('aes-256', KEY, 'legacy').kcv);
            if (revealed.size === 2) {
              const key = revealed.get(1)!.map((b, i) => b ^ revealed.get(2)![i]!);
              expect(kcv('aes-256', key, 'legacy').kcv).toBe(end.facts.keyKcv);
            }
            if (madeBefore && c.redo?.length) expect(keyId).not.toBe(madeBefore);
          }

          const exported = await ok<TranscriptExport>(app, 'ceremony.transcript', { id });
          const record = verifyTranscript(exported.text, signer.spkiSha256).record;
          expect(record.ceremony.state).toBe(c.end === 'abort' ? 'aborted' : 'completed');
          const resumes = record.entries.filter((e) => e.action === 'resume');
          expect(resumes).toHaveLength(1);
          if (c.end === 'resume') expect(resumes[0]!.details.redo).toEqual(c.redo);
          const removed = [...(resumes[0]!.details.removed as string[])];
          if (c.end === 'abort') {
            removed.push(...(record.entries.find((e) => e.action === 'abort')!.details.removed as string[]));
          }
          for (const keyId of intended) expect(removed).toContain(keyId);

          expect(tornFiles(dataDir)).toEqual([]);
          const audit = await app.audit.verify();
          expect(audit.firstBad ?? null).toBeNull();
        } finally {
          await app.close();
        }
      }),
    );
  }
});
