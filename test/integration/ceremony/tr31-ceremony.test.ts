import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeremonyService } from '../../../electron/ceremony/ceremony-service.nodejs';
import type { TokenCaller } from '../../../electron/ceremony/executors/component-store.nodejs';
import { ceremonyTokenPort } from '../../../electron/ceremony/executors/token-port.nodejs';
import { tr31Executors } from '../../../electron/ceremony/executors/tr31-steps.nodejs';
import { JournalStore } from '../../../electron/ceremony/journal.nodejs';
import { verifyTranscript } from '../../../electron/ceremony/transcript.nodejs';
import { kcv } from '../../../electron/crypto/kcv.nodejs';
import { pkcs11js } from '../../../electron/hsm/pkcs11/pkcs11.host';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import type { TemplateParams } from '../../../shared/ceremony/script.std';
import { failure } from '../../helpers/failure';
import { filesUnder } from '../../helpers/scan';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { TR31_2018_A_7_4 } from '../../unit/formats/tr31-vectors';
import { componentsOf, encryptTo } from './component-ops-suite';
import { admin, enrolAndIdentify, hostEngine, PLAIN_STEPS, witness } from './engine-ceremony';
import { createKnownKey } from './tr31-ops-suite';

/**
 * TR-31 export and import as ceremonies (issue 11 point 4) through the engine with the real
 * executors on SoftHSM2: the block comes back as the export step's reply, the import step takes it
 * as its input, both by administrator and witness; the transcript records header fields and check
 * values, verifies, and no file the ceremonies wrote holds the key.
 */
const P = pkcs11js;
const CHEAP = { N: 1024, r: 8, p: 1 };
const DATA_KEY = '3F419E1CB7079442AA37474C2EFBF8B8';

let hsm: SoftHsmToken;
let engine: TokenEngine;
let tokens: TokenCaller;
let data: string;
let signer: { id: string; spkiSha256: string };
const kbpkId = '7531dd01';
const keyId = '7531dd02';

function service(): CeremonyService {
  return new CeremonyService({
    store: new JournalStore(join(data, 'ceremonies')),
    token: ceremonyTokenPort(tokens),
    audit: { record: (e) => appendFileSync(join(data, 'audit.jsonl'), JSON.stringify(e) + '\n') },
    app: { version: '0.0.0-test', buildHash: async () => 'b'.repeat(64) },
    executors: { ...PLAIN_STEPS, ...tr31Executors({ tokens }) },
    verifierCost: CHEAP,
  });
}

async function started(svc: CeremonyService, params: TemplateParams): Promise<string> {
  const c = await svc.start({ params, slotId: hsm.slotId, signingKeyId: signer.id });
  await enrolAndIdentify(svc, c.id, 0);
  return c.id;
}

beforeAll(async () => {
  hsm = createSoftHsmToken({ label: 'tr31-ceremony' });
  data = mkdtempSync(join(tmpdir(), 'mkm-tr31-ceremony-'));
  ({ engine, tokens } = hostEngine());
  await engine.loadModule({ path: hsm.modulePath });
  await engine.login({ slotId: hsm.slotId, pin: hsm.userPin });
  const k = await engine.generateKey({
    slotId: hsm.slotId,
    type: 'rsa-2048',
    label: 'signer',
    purpose: 'signing',
  });
  signer = { id: k.id, spkiSha256: k.spkiSha256! };
  const transport = await engine.ceremonyTransportKey({ slotId: hsm.slotId });
  await engine.formKeyFromComponents({
    slotId: hsm.slotId,
    transportKeyId: transport.transportKeyId,
    keyType: 'aes-256',
    ciphertexts: componentsOf('aes-256', TR31_2018_A_7_4.kbpk, ['5a'.repeat(32)]).map((c) =>
      encryptTo(transport.spkiPem, c),
    ),
    label: 'kbpk',
    id: kbpkId,
    purpose: 'kbpk',
  });
  createKnownKey(engine, hsm.slotId, {
    id: keyId,
    label: 'data key',
    keyHex: DATA_KEY,
    usages: [P.CKA_ENCRYPT, P.CKA_DECRYPT],
  });
}, 120_000);

afterAll(async () => {
  await engine?.unloadModule();
  hsm?.cleanup();
  if (data) rmSync(data, { recursive: true, force: true });
});

describe('TR-31 ceremonies', () => {
  let block: string;

  it('export: the block is the step’s reply; the transcript has the header and the KCVs, and verifies', async () => {
    const svc = service();
    const id = await started(svc, {
      template: 'tr31-export',
      keyId,
      kbpkId,
      usage: 'D0',
      modeOfUse: 'B',
      exportability: 'N',
      kbpkType: 'aes-256',
    });
    // Dual control: the administrator alone cannot do it.
    const alone = await failure(svc.act(id, { stepId: 'tr31-export', actor: admin }));
    expect(alone.code).toBe('CEREMONY_DUAL_CONTROL');
    const out = await svc.act(id, { stepId: 'tr31-export', actor: admin, confirmer: witness });
    block = out.reply.block!;
    expect(block).toMatch(/^D\d{4}D0AB00N/);
    expect(out.details).toMatchObject({
      usage: 'D0',
      modeOfUse: 'B',
      exportability: 'N',
      blockVersion: 'D',
      keyKcv: kcv('aes-128', Buffer.from(DATA_KEY, 'hex'), 'legacy').kcv,
      keyKcvCmac: '08793e',
      optionalBlocks: ['KC', 'KP'],
    });
    expect(out.details.kbpkKcvCmac).toMatch(/^[0-9a-f]{6}$/);
    for (const p of [admin, witness]) await svc.signOff(id, p);
    const verified = verifyTranscript((await svc.transcript(id)).text, signer.spkiSha256);
    expect(verified.record.ceremony.state).toBe('completed');
  });

  it('import: the block as the step’s input; only what its header grants, the KCVs checked and recorded', async () => {
    const svc = service();
    const id = await started(svc, {
      template: 'tr31-import',
      kbpkId,
      label: 'imported in ceremony',
      kbpkType: 'aes-256',
    });
    const tampered = block.slice(0, -1) + (block.endsWith('0') ? '1' : '0');
    const refused = await failure(
      svc.act(id, { stepId: 'tr31-import', actor: admin, confirmer: witness, input: { block: tampered } }),
    );
    expect(refused.code).toBe('TR31_MAC_MISMATCH');
    expect((await svc.status(id)).current).toBe('tr31-import');
    const out = await svc.act(id, {
      stepId: 'tr31-import',
      actor: admin,
      confirmer: witness,
      input: { block },
    });
    expect(out.details).toMatchObject({
      keyKcvCmac: '08793e',
      checkedInBlock: ['KC', 'KP'],
      extractable: false,
      usages: ['encrypt', 'decrypt'],
      exportability: 'N',
    });
    const obj = await engine.getObject({
      slotId: hsm.slotId,
      id: out.details.keyId as string,
      class: 'secret',
    });
    expect(obj).toMatchObject({ sensitive: true, extractable: false, label: 'imported in ceremony' });
    for (const p of [admin, witness]) await svc.signOff(id, p);
    expect(verifyTranscript((await svc.transcript(id)).text, signer.spkiSha256).record.ceremony.state).toBe(
      'completed',
    );
  });

  it('no file the ceremonies wrote holds the key', () => {
    const forms = [DATA_KEY, DATA_KEY.toLowerCase(), Buffer.from(DATA_KEY, 'hex').toString('base64')];
    for (const file of filesUnder(data)) {
      const text = readFileSync(file, 'latin1');
      for (const f of forms) expect(text.includes(f), `${file}`).toBe(false);
    }
    expect(filesUnder(data).length).toBeGreaterThan(2);
  });
});
