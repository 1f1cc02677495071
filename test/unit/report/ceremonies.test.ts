import { constants, createSign, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TemplateParams } from '../../../shared/ceremony/script.std';
import type { CeremonyActorProof } from '../../../shared/contract/ceremony.std';
import type { PciReport } from '../../../shared/contract/report.std';
import {
  CeremonyService,
  type CeremonyTokenPort,
  type StepExecutor,
} from '../../../electron/ceremony/ceremony-service.nodejs';
import { JournalStore } from '../../../electron/ceremony/journal.nodejs';
import { parseRsaPublicKey } from '../../../electron/crypto/pem.nodejs';
import type { AuditAppend } from '../../../electron/audit/audit-log.nodejs';
import {
  ceremonyAnchors,
  ceremonyEvidence as evidenceAnchoredBy,
  ceremonyRecord,
} from '../../../electron/report/ceremony-evidence.nodejs';
import { verifyTranscript } from '../../../electron/ceremony/transcript.nodejs';
import { renderPciHtml } from '../../../electron/report/render-html.std';
import { oneKey } from '../lifecycle/fixtures';
import { evidenceFor, reportFor } from './evidence-fixtures';

// Transcripts made by the real CeremonyService over a faked token (a node:crypto signing key), put
// in a ceremony folder, and read back by the report as its split-knowledge evidence.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spkiPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const SIGNER_ID = 'a1b2';

const token: CeremonyTokenPort = {
  describe: async () => ({ serial: 'S-1', model: 'HSM 9000', manufacturer: 'Acme', label: 'ceremony' }),
  signingKey: async () => ({
    label: 'ceremony-signer',
    spkiPem,
    spkiSha256: parseRsaPublicKey(spkiPem).spkiSha256,
  }),
  sign: async (_slot, _keyId, data) => ({
    alg: 'RSASSA-PSS-SHA256' as const,
    value: createSign('sha256')
      .update(data)
      .sign({ key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
      .toString('base64'),
  }),
  destroy: async () => {},
};

const executors: Partial<Record<string, StepExecutor>> = {
  preflight: async () => ({ network: 'loopback only' }),
  identify: async () => ({}),
  'enter-component': async (ctx) => ({ [`component${ctx.step.index}Kcv`]: `00000${ctx.step.index}` }),
  'form-key': async () => ({ keyKcv: 'ABCDEF' }),
};

const FORM: TemplateParams = {
  template: 'form-key',
  keyType: 'aes-256',
  components: 2,
  label: 'zmk',
  purpose: 'kek',
};
const PASS = (name: string) => `${name} passphrase, long enough`;
const proof = (participantId: string, name: string): CeremonyActorProof => ({
  participantId,
  passphrase: PASS(name),
});
const admin = proof('p-1', 'Alice');
const witness = proof('p-2', 'Wendy');
const carl = proof('p-3', 'Carl');
const dana = proof('p-4', 'Dana');

let folder: string;
let service: CeremonyService;
/** What the service wrote to the audit log: the anchors of its transcripts. */
let recorded: AuditAppend[];
const ceremonyEvidence = (dir: string) => evidenceAnchoredBy(dir, ceremonyAnchors(recorded));

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'mkm-report-ceremonies-'));
  recorded = [];
  service = new CeremonyService({
    store: new JournalStore(folder),
    token,
    audit: { record: (entry) => void recorded.push(entry) },
    app: { version: '0.0.0-test', buildHash: async () => 'b'.repeat(64) },
    executors,
    verifierCost: { N: 1024, r: 8, p: 1 },
    clock: () => new Date('2026-12-07T10:00:00Z'),
  });
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

async function started(): Promise<string> {
  const c = await service.start({ params: FORM, slotId: 0, signingKeyId: SIGNER_ID });
  for (const [name, role] of [
    ['Alice', 'administrator'],
    ['Wendy', 'witness'],
    ['Carl', 'custodian'],
    ['Dana', 'custodian'],
  ] as const)
    await service.enroll(c.id, { name, role, passphrase: PASS(name), acknowledged: true });
  await service.act(c.id, { stepId: 'preflight', actor: admin, confirmer: witness });
  await service.act(c.id, { stepId: 'identify', actor: admin, confirmer: witness });
  await service.act(c.id, { stepId: 'enter-component-1', actor: carl, confirmer: witness });
  return c.id;
}

async function completed(): Promise<string> {
  const id = await started();
  await service.exception(id, { witness, text: 'Dana arrived ten minutes late' });
  await service.act(id, { stepId: 'enter-component-2', actor: dana, confirmer: witness });
  await service.act(id, { stepId: 'form-key', actor: admin, confirmer: witness });
  for (const p of [admin, witness, carl, dana]) await service.signOff(id, p);
  return id;
}

const statusOf = (r: PciReport, id: string) => r.requirements.find((q) => q.id === id)!;
const report = () =>
  reportFor(
    evidenceFor(oneKey().data, new Date('2026-06-01T00:00:00.000Z'), {
      ceremonies: ceremonyEvidence(folder),
    }),
  );

describe('3.6.1.2 and 3.7.6 from the ceremony transcripts', () => {
  it('a completed, verified two-custodian ceremony: split knowledge and dual control are met', async () => {
    await completed();
    const e = ceremonyEvidence(folder);
    expect(e.refused).toEqual([]);
    expect(e.verified).toHaveLength(1);
    expect(e.verified[0]).toMatchObject({
      template: 'form-key',
      state: 'completed',
      splitKnowledge: true,
      dualControl: true,
      keyKcv: 'ABCDEF',
      clearSteps: [
        { step: 'enter-component-1', custodian: 'Carl', confirmer: 'Wendy' },
        { step: 'enter-component-2', custodian: 'Dana', confirmer: 'Wendy' },
      ],
      signedOff: ['Alice', 'Wendy', 'Carl', 'Dana'],
    });
    expect(e.verified[0]!.exceptions[0]).toMatch(/Wendy: Dana arrived ten minutes late$/);
    const r = report();
    for (const id of ['3.6.1.2', '3.7.6']) expect(statusOf(r, id).status, id).toBe('met');
    expect(statusOf(r, '3.7.6').why[0]).toMatch(/Split knowledge and dual control held in 1 completed/);
    // The HTML report shows who did each component step.
    const html = renderPciHtml(r);
    expect(html).toContain('enter-component-2 by Dana, confirmed by Wendy');
    expect(html).toContain('key KCV ABCDEF');
  });

  it('no ceremony yet: not met, and says split knowledge is not yet used', () => {
    const r = report();
    expect(statusOf(r, '3.6.1.2').status).toBe('manual');
    expect(statusOf(r, '3.6.1.2').why.join(' ')).toMatch(/not yet used/);
    expect(statusOf(r, '3.7.6').status).toBe('n/a');
    expect(statusOf(r, '3.7.6').why[0]).toMatch(/key ceremonies not yet used/);
  });

  it('a transcript with one byte of an entry changed is refused, and never makes the requirement met', async () => {
    const id = await completed();
    const file = join(folder, `${id}.mkmx`);
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('"000002"');
    expect(at).toBeGreaterThan(0);
    writeFileSync(file, text.slice(0, at + 6) + '3' + text.slice(at + 7));
    const e = ceremonyEvidence(folder);
    expect(e.verified).toEqual([]);
    expect(e.refused).toEqual([
      { file: `${id}.mkmx`, reason: expect.stringContaining('TRANSCRIPT_CHAIN_BROKEN') },
    ]);
    const r = report();
    for (const id of ['3.6.1.2', '3.7.6']) {
      expect(statusOf(r, id).status, id).toBe('attention');
      expect(statusOf(r, id).why[0], id).toMatch(/^Evidence refused: 1 ceremony transcript does not verify/);
    }
    expect(renderPciHtml(r)).toContain('does not verify, not used as evidence');
  });

  it('an aborted ceremony is listed but does not make it met; a running one is listed as in progress', async () => {
    const aborted = await started();
    await service.abort(aborted, { actor: witness, reason: 'the token was pulled' });
    const running = await started();
    const e = ceremonyEvidence(folder);
    expect(e.verified).toMatchObject([{ id: aborted, state: 'aborted' }]);
    expect(e.inProgress).toEqual([
      { id: running, template: 'form-key', startedAt: '2026-12-07T10:00:00.000Z' },
    ]);
    const r = report();
    for (const id of ['3.6.1.2', '3.7.6']) {
      expect(statusOf(r, id).status, id).toBe('manual');
      expect(statusOf(r, id).why.join(' '), id).toMatch(
        /no completed ceremony shows them yet \(1 ceremony was aborted\)/,
      );
    }
    const facts = statusOf(r, '3.7.6').facts.map((f) => `${f.label}: ${f.value}`);
    expect(facts).toContainEqual(expect.stringMatching(/^Ceremony form-key .*\(aborted, /));
    expect(facts).toContainEqual(
      expect.stringMatching(new RegExp(`^Ceremony ${running}: in progress \\(form-key`)),
    );
    expect(readdirSync(folder).filter((n) => n.endsWith('.mkmx'))).toEqual([`${aborted}.mkmx`]);
  });

  it('split knowledge needs a different custodian per component; dual control a second person on each step', async () => {
    const id = await completed();
    const { record, signer } = verifyTranscript(readFileSync(join(folder, `${id}.mkmx`), 'utf8'));
    expect(ceremonyRecord(record, signer)).toMatchObject({ splitKnowledge: true, dualControl: true });
    const steps = record.entries.filter((x) => x.action === 'step' && x.step?.kind === 'enter-component');
    const twice = structuredClone(record);
    twice.entries.find((x) => x.action === 'step' && x.step?.id === 'enter-component-2')!.by[0] =
      steps[0]!.by[0]!;
    expect(ceremonyRecord(twice, signer)).toMatchObject({ splitKnowledge: false, dualControl: true });
    const alone = structuredClone(record);
    alone.entries.find((x) => x.action === 'step' && x.step?.id === 'enter-component-1')!.by.splice(1);
    expect(ceremonyRecord(alone, signer)).toMatchObject({ splitKnowledge: true, dualControl: false });
    const same = structuredClone(record);
    const one = same.entries.find((x) => x.action === 'step' && x.step?.id === 'enter-component-1')!;
    one.by[1] = one.by[0]!;
    expect(ceremonyRecord(same, signer)).toMatchObject({ dualControl: false });
  });

  it("a transcript the audit log does not record as it is told is refused: a signer of one's own, a ceremony never run here, a cut record", async () => {
    const id = await completed();
    const unrecorded = (e: ReturnType<typeof ceremonyEvidence>) => {
      expect(e.verified).toEqual([]);
      expect(e.refused).toEqual([
        { file: `${id}.mkmx`, reason: expect.stringContaining('TRANSCRIPT_UNRECORDED') },
      ]);
    };
    // The log holds the ceremony but not the entry the transcript ends with.
    const cut = recorded.filter((e) => e.action !== 'ceremony.close');
    unrecorded(evidenceAnchoredBy(folder, ceremonyAnchors(cut)));
    // A ceremony this installation never ran.
    unrecorded(evidenceAnchoredBy(folder, new Map()));
    // Signed with a key of its own: the chain and the signature verify, the audit log named another.
    const start = recorded.find((e) => e.action === 'ceremony.start')!;
    start.details = { ...start.details, signer: { fingerprint: 'f'.repeat(64) } };
    unrecorded(ceremonyEvidence(folder));
  });
});
