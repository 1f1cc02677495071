import { constants, createSign, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TemplateParams } from '../../../shared/ceremony/script.std';
import type { CeremonyActorProof } from '../../../shared/contract/ceremony.std';
import {
  CeremonyService,
  type CeremonyTokenPort,
  type StepExecutor,
} from '../../../electron/ceremony/ceremony-service.nodejs';
import { JournalStore } from '../../../electron/ceremony/journal.nodejs';
import { verifyTranscript } from '../../../electron/ceremony/transcript.nodejs';
import { parseRsaPublicKey } from '../../../electron/crypto/pem.nodejs';

// The token is faked here (a unit test of order, people and record); the integration tests run
// the same service on SoftHSM2.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spkiPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const SIGNER_ID = 'a1b2';

class FakeToken implements CeremonyTokenPort {
  objects = new Set<string>();
  destroyed: string[] = [];
  async describe() {
    return { serial: 'SERIAL-1', model: 'SoftHSM v2', manufacturer: 'SoftHSM project', label: 'ceremony' };
  }
  async signingKey(_slot: number, keyId: string) {
    if (keyId !== SIGNER_ID) throw new Error('no such key');
    return { label: 'ceremony-signer', spkiPem, spkiSha256: parseRsaPublicKey(spkiPem).spkiSha256 };
  }
  async sign(_slot: number, _keyId: string, data: Buffer) {
    const value = createSign('sha256')
      .update(data)
      .sign({ key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
      .toString('base64');
    return { alg: 'RSASSA-PSS-SHA256' as const, value };
  }
  async destroy(_slot: number, keyId: string) {
    this.objects.delete(keyId);
    this.destroyed.push(keyId);
  }
}

const CHEAP = { N: 1024, r: 8, p: 1 };
const PASS = (name: string) => `${name} passphrase, long enough`;
const FORM: TemplateParams = {
  template: 'form-key',
  keyType: 'aes-256',
  components: 2,
  label: 'zmk',
  purpose: 'kek',
};

let folder: string;
let token: FakeToken;
let audit: { action: string; result: string; details?: Record<string, unknown> }[];
let service: CeremonyService;
let crashAfterIntent = false;

const executors: Partial<Record<string, StepExecutor>> = {
  preflight: async () => ({ network: 'loopback only' }),
  identify: async () => ({}),
  'enter-component': async (ctx) => ({ componentKcv: `0000${ctx.step.index}` }),
  'form-key': async (ctx) => {
    await ctx.intend(['feed']);
    if (crashAfterIntent) throw new Error('the process died here');
    token.objects.add('feed');
    ctx.fact('keyId', 'feed');
    return { keyKcv: 'abcdef' };
  },
};

function make() {
  return new CeremonyService({
    store: new JournalStore(folder),
    token,
    audit: { record: (e) => audit.push(e as never) },
    app: { version: '0.0.0-test', buildHash: async () => 'b'.repeat(64) },
    executors,
    verifierCost: CHEAP,
    clock: () => new Date('2026-12-07T10:00:00Z'),
  });
}

const proof = (participantId: string, name: string): CeremonyActorProof => ({
  participantId,
  passphrase: PASS(name),
});
const admin = proof('p-1', 'Alice');
const witness = proof('p-2', 'Wendy');
const cust1 = proof('p-3', 'Carl');
const cust2 = proof('p-4', 'Dana');

/** Enrols someone whose passphrase is PASS(name), so the proofs above are theirs. */
const enrol = (id: string, name: string, role: 'administrator' | 'witness' | 'custodian') =>
  service.enroll(id, { name, role, passphrase: PASS(name), acknowledged: true });

async function startWithPeople() {
  const c = await service.start({ params: FORM, slotId: 0, signingKeyId: SIGNER_ID });
  await enrol(c.id, 'Alice', 'administrator');
  await enrol(c.id, 'Wendy', 'witness');
  await enrol(c.id, 'Carl', 'custodian');
  await enrol(c.id, 'Dana', 'custodian');
  await service.act(c.id, { stepId: 'preflight', actor: admin, confirmer: witness });
  await service.act(c.id, { stepId: 'identify', actor: admin, confirmer: witness });
  return c.id;
}

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'mkm-ceremony-'));
  token = new FakeToken();
  audit = [];
  crashAfterIntent = false;
  service = make();
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

describe('a ceremony runs its script in order, by the people it names', () => {
  it('refuses a step that is not the one reached', async () => {
    const id = await startWithPeople();
    await expect(
      service.act(id, { stepId: 'form-key', actor: admin, confirmer: witness }),
    ).rejects.toMatchObject({
      code: 'CEREMONY_STEP_OUT_OF_ORDER',
    });
  });

  it('refuses a wrong passphrase, and audits the refusal', async () => {
    const id = await startWithPeople();
    await expect(
      service.act(id, {
        stepId: 'enter-component-1',
        actor: { participantId: 'p-3', passphrase: 'not Carl’s passphrase at all' },
        confirmer: witness,
      }),
    ).rejects.toMatchObject({ code: 'CEREMONY_AUTH_FAILED' });
    expect(audit.some((e) => e.action === 'ceremony.auth' && e.result === 'CEREMONY_AUTH_FAILED')).toBe(true);
  });

  it('needs a second person for a dual-control step, and never the same one twice', async () => {
    const id = await startWithPeople();
    await expect(service.act(id, { stepId: 'enter-component-1', actor: cust1 })).rejects.toMatchObject({
      code: 'CEREMONY_DUAL_CONTROL',
    });
    await expect(
      service.act(id, { stepId: 'enter-component-1', actor: cust1, confirmer: cust1 }),
    ).rejects.toMatchObject({ code: 'CEREMONY_DUAL_CONTROL' });
  });

  it('never lets one custodian enter two components of one key', async () => {
    const id = await startWithPeople();
    await service.act(id, { stepId: 'enter-component-1', actor: cust1, confirmer: witness });
    await expect(
      service.act(id, { stepId: 'enter-component-2', actor: cust1, confirmer: witness }),
    ).rejects.toMatchObject({ code: 'CEREMONY_DUAL_CONTROL' });
  });

  it('refuses a role the step does not name', async () => {
    const id = await startWithPeople();
    await expect(
      service.act(id, { stepId: 'enter-component-1', actor: admin, confirmer: witness }),
    ).rejects.toMatchObject({ code: 'CEREMONY_ROLE_REFUSED' });
  });

  it('refuses the identify step until every role is there', async () => {
    const c = await service.start({ params: FORM, slotId: 0, signingKeyId: SIGNER_ID });
    await enrol(c.id, 'Alice', 'administrator');
    await enrol(c.id, 'Wendy', 'witness');
    await service.act(c.id, { stepId: 'preflight', actor: admin, confirmer: witness });
    await expect(
      service.act(c.id, { stepId: 'identify', actor: admin, confirmer: witness }),
    ).rejects.toMatchObject({
      code: 'CEREMONY_PARTICIPANT_UNKNOWN',
    });
  });

  it('keeps no passphrase in the journal, only a salted verifier', async () => {
    const id = await startWithPeople();
    const text = readFileSync(join(folder, `${id}.json`), 'utf8');
    for (const name of ['Alice', 'Wendy', 'Carl', 'Dana']) expect(text).not.toContain(PASS(name));
    expect(text).toContain('"kdf": "scrypt"');
  });
});

describe('the end of a ceremony', () => {
  async function runToSignOff() {
    const id = await startWithPeople();
    await service.act(id, { stepId: 'enter-component-1', actor: cust1, confirmer: witness });
    await service.act(id, { stepId: 'enter-component-2', actor: cust2, confirmer: witness });
    await service.act(id, { stepId: 'form-key', actor: admin, confirmer: witness });
    return id;
  }

  it('closes when the last participant signs off, with a transcript signed on the token that verifies', async () => {
    const id = await runToSignOff();
    for (const p of [admin, witness, cust1]) {
      const view = await service.signOff(id, p);
      expect(view.state).toBe('running');
    }
    const closed = await service.signOff(id, cust2);
    expect(closed.state).toBe('completed');
    const exported = await service.transcript(id);
    const verified = verifyTranscript(exported.text, parseRsaPublicKey(spkiPem).spkiSha256);
    expect(verified.record.ceremony.state).toBe('completed');
    expect(verified.record.entries.map((e) => e.action)).toEqual([
      'start',
      'participant',
      'participant',
      'participant',
      'participant',
      'step',
      'step',
      'step',
      'step',
      'step',
      'sign-off',
      'sign-off',
      'sign-off',
      'sign-off',
      'close',
    ]);
    // Each transcript entry is in the audit log too, under its chain hash.
    const logged = audit.filter((e) => e.action.startsWith('ceremony.') && e.action !== 'ceremony.auth');
    expect(logged.map((e) => (e.details!.transcript as { fingerprint: string }).fingerprint)).toEqual(
      verified.record.entries.map((e) => e.hash),
    );
  });

  it('a transcript changed after signing is refused, naming the check', async () => {
    const id = await runToSignOff();
    for (const p of [admin, witness, cust1, cust2]) await service.signOff(id, p);
    const text = (await service.transcript(id)).text;
    const record = JSON.parse(text);
    record.entries[6].details.componentKcv = '999999';
    expect(() => verifyTranscript(JSON.stringify(record))).toThrow(
      expect.objectContaining({
        code: 'TRANSCRIPT_CHAIN_BROKEN',
        details: expect.objectContaining({ seq: 6 }),
      }),
    );
    const dropped = JSON.parse(text);
    dropped.entries.splice(3, 1);
    expect(() => verifyTranscript(JSON.stringify(dropped))).toThrow(
      expect.objectContaining({ code: 'TRANSCRIPT_CHAIN_BROKEN' }),
    );
    const resigned = JSON.parse(text);
    resigned.ceremony.title = 'Another ceremony';
    expect(() => verifyTranscript(JSON.stringify(resigned))).toThrow(
      expect.objectContaining({ code: 'TRANSCRIPT_SIGNATURE_INVALID' }),
    );
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const otherSha = parseRsaPublicKey(other.export({ type: 'spki', format: 'pem' }).toString()).spkiSha256;
    expect(() => verifyTranscript(text, otherSha)).toThrow(
      expect.objectContaining({ code: 'TRANSCRIPT_SIGNER_UNEXPECTED' }),
    );
  });

  it('an aborted ceremony removes what its step was making, and its transcript says so', async () => {
    const id = await startWithPeople();
    await service.act(id, { stepId: 'enter-component-1', actor: cust1, confirmer: witness });
    await service.act(id, { stepId: 'enter-component-2', actor: cust2, confirmer: witness });
    crashAfterIntent = true;
    await expect(service.act(id, { stepId: 'form-key', actor: admin, confirmer: witness })).rejects.toThrow();
    const view = await service.abort(id, { actor: witness, reason: 'the token was pulled' });
    expect(view.state).toBe('aborted');
    expect(token.destroyed).toEqual(['feed']);
    const { record } = verifyTranscript((await service.transcript(id)).text);
    expect(record.entries.at(-1)).toMatchObject({ action: 'abort', details: { removed: ['feed'] } });
    await expect(
      service.act(id, { stepId: 'form-key', actor: admin, confirmer: witness }),
    ).rejects.toMatchObject({
      code: 'CEREMONY_CLOSED',
    });
  });

  it('resumes after a crash at the step it reached, with nothing half-formed left', async () => {
    const id = await startWithPeople();
    await service.act(id, { stepId: 'enter-component-1', actor: cust1, confirmer: witness });
    await service.act(id, { stepId: 'enter-component-2', actor: cust2, confirmer: witness });
    crashAfterIntent = true;
    await expect(service.act(id, { stepId: 'form-key', actor: admin, confirmer: witness })).rejects.toThrow();
    // A new process: a new service over the same folder.
    crashAfterIntent = false;
    service = make();
    const resumed = await service.resume(id);
    expect(resumed.current).toBe('form-key');
    expect(token.destroyed).toEqual(['feed']);
    const done = await service.act(id, { stepId: 'form-key', actor: admin, confirmer: witness });
    expect(done.details).toEqual({ keyKcv: 'abcdef', keyId: 'feed' });
    expect(done.ceremony.facts).toMatchObject({ keyId: 'feed', keyKcv: 'abcdef' });
  });

  it('a close cut short between the signed record and the journal: the running ceremony keeps no record beside it', async () => {
    const id = await startWithPeople();
    for (const stepId of ['enter-component-1', 'enter-component-2'])
      await service.act(id, { stepId, actor: stepId.endsWith('1') ? cust1 : cust2, confirmer: witness });
    await service.act(id, { stepId: 'form-key', actor: admin, confirmer: witness });
    for (const p of [admin, witness, cust1]) await service.signOff(id, p);
    // The process dies between writing the record and the journal that says the ceremony closed.
    const died = new CeremonyService({
      store: new JournalStore(folder),
      token,
      audit: { record: () => undefined },
      app: { version: '0.0.0-test', buildHash: async () => 'b'.repeat(64) },
      executors,
      verifierCost: CHEAP,
      faults: (point) => {
        if (point === 'recorded') throw new Error('killed');
      },
    });
    await expect(died.signOff(id, cust2)).rejects.toThrow('killed');
    const record = new JournalStore(folder).recordFile(id);
    expect(readFileSync(record, 'utf8')).toContain('mkm-ceremony-transcript');
    expect((await service.status(id)).state).toBe('running');
    // A new process: the ceremony resumed there no longer has a record (no gateway call leaves
    // the machine while it runs), and the last sign-off closes it with a record again.
    service = make();
    await service.resume(id);
    expect(() => readFileSync(record)).toThrow();
    expect((await service.signOff(id, cust2)).state).toBe('completed');
    expect(verifyTranscript((await service.transcript(id)).text).record.ceremony.state).toBe('completed');
  });

  it('a journal edited on disk is not resumed: a step marked done, a verifier swapped', async () => {
    const id = await startWithPeople();
    const file = join(folder, `${id}.json`);
    const original = readFileSync(file, 'utf8');
    const skipped = JSON.parse(original);
    skipped.entries[1].details.role = 'witness';
    writeFileSync(file, JSON.stringify(skipped));
    await expect(service.resume(id)).rejects.toMatchObject({
      code: 'CEREMONY_JOURNAL_INVALID',
      details: { reason: 'chain' },
    });
    // Someone who knows their own passphrase puts its verifier in place of a custodian's.
    const swapped = JSON.parse(original);
    swapped.participants[2].verifier = swapped.participants[3].verifier;
    writeFileSync(file, JSON.stringify(swapped));
    await expect(service.resume(id)).rejects.toMatchObject({
      code: 'CEREMONY_JOURNAL_INVALID',
      details: { reason: 'participant' },
    });
  });
});
