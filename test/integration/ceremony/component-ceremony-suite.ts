import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeremonyService } from '../../../electron/ceremony/ceremony-service.nodejs';
import {
  CeremonyComponentStore,
  type TokenCaller,
} from '../../../electron/ceremony/executors/component-store.nodejs';
import { componentExecutors } from '../../../electron/ceremony/executors/component-steps.nodejs';
import { ceremonyTokenPort } from '../../../electron/ceremony/executors/token-port.nodejs';
import { JournalStore } from '../../../electron/ceremony/journal.nodejs';
import { verifyTranscript } from '../../../electron/ceremony/transcript.nodejs';
import { kcv } from '../../../electron/crypto/kcv.nodejs';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import type { TemplateParams } from '../../../shared/ceremony/script.std';
import { groupComponent } from '../../../shared/formats/component-entry.std';
import { failure } from '../../helpers/failure';
import { filesUnder, leaksUnder } from '../../helpers/scan';
import { componentsOf, encryptTo, type SuiteToken } from './component-ops-suite';
import { admin, custodian, enrolAndIdentify, hostEngine, PLAIN_STEPS, witness } from './engine-ceremony';

/**
 * Whole ceremonies through the engine (CeremonyService) with the token executors and the real
 * token port on a real token: components arrive encrypted as a custodian's window would send them,
 * the key is formed on the token, the transcript is signed there and verifies, and no file the
 * ceremony wrote (journals, transcripts, the audit log, the host's log) holds a component or the
 * key in any usual spelling.
 */

export function componentCeremonySuite(make: () => Promise<SuiteToken>): void {
  const CHEAP = { N: 1024, r: 8, p: 1 };
  const KEY = '0123456789ABCDEFFEDCBA9876543210';

  let hsm: SuiteToken;
  let engine: TokenEngine;
  let tokens: TokenCaller;
  let data: string;
  let signer: { id: string; spkiSha256: string };

  function service(store: CeremonyComponentStore): CeremonyService {
    return new CeremonyService({
      store: new JournalStore(join(data, 'ceremonies')),
      token: ceremonyTokenPort(tokens),
      // The audit log as the app writes it: into the data folder, so the scan covers it.
      audit: { record: (e) => appendFileSync(join(data, 'audit.jsonl'), JSON.stringify(e) + '\n') },
      app: { version: '0.0.0-test', buildHash: async () => 'b'.repeat(64) },
      executors: { ...PLAIN_STEPS, ...componentExecutors({ tokens, store }) },
      verifierCost: CHEAP,
    });
  }

  async function started(svc: CeremonyService, params: TemplateParams, custodians: number): Promise<string> {
    const c = await svc.start({ params, slotId: hsm.slotId, signingKeyId: signer.id });
    await enrolAndIdentify(svc, c.id, custodians);
    return c.id;
  }

  const leaks = (secrets: Uint8Array[], extra: string[] = []) => leaksUnder(data, secrets, extra);

  beforeAll(async () => {
    hsm = await make();
    data = mkdtempSync(join(tmpdir(), 'mkm-ceremony-data-'));
    ({ engine, tokens } = hostEngine(data));
    await engine.loadModule({ path: hsm.modulePath, libraryParameters: hsm.libraryParameters });
    await engine.login({ slotId: hsm.slotId, pin: hsm.userPin });
    const k = await engine.generateKey({
      slotId: hsm.slotId,
      type: 'rsa-2048',
      label: 'ceremony signer',
      purpose: 'signing',
    });
    signer = { id: k.id, spkiSha256: k.spkiSha256! };
  }, 120_000);
  afterAll(async () => {
    await engine?.unloadModule();
    await hsm?.stop();
    if (data) rmSync(data, { recursive: true, force: true });
  });

  describe('a form-key ceremony', () => {
    const params: TemplateParams = {
      template: 'form-key',
      keyType: 'tdes-2key',
      components: 2,
      label: 'zmk from components',
      purpose: 'kek',
    };
    const parts = componentsOf('tdes-2key', KEY, ['A1B2C3D4E5F60718293A4B5C6D7E8F90']);
    const sent: string[] = [];

    it('forms the key from encrypted components, signs a transcript that verifies, and writes no secret anywhere', async () => {
      const store = new CeremonyComponentStore(tokens);
      const svc = service(store);
      const id = await started(svc, params, 2);
      // A custodian's window: the transport key's public half, and the component encrypted to it.
      const transport = await store.transportKey(id, hsm.slotId);

      // Custodian 1 mistypes a digit: the byte is named, the step is not done.
      const typo = Uint8Array.from(parts[0]!);
      typo[4]! ^= 0x10;
      const refused = await failure(
        svc.act(id, {
          stepId: 'enter-component-1',
          actor: custodian(1),
          confirmer: witness,
          input: { ciphertext: encryptTo(transport.spkiPem, typo), transportKeySha256: transport.spkiSha256 },
        }),
      );
      expect(refused.code).toBe('COMPONENT_PARITY_INVALID');
      expect(refused.details).toMatchObject({ componentIndex: 1, positions: ['5'] });
      expect((await svc.status(id)).current).toBe('enter-component-1');

      // The KCV read from the custodian's sheet differs: refused, nothing held, the step not done.
      const otherKcv = kcv('tdes-2key', parts[1]!, 'legacy').kcv;
      const mismatch = await failure(
        svc.act(id, {
          stepId: 'enter-component-1',
          actor: custodian(1),
          confirmer: witness,
          input: {
            ciphertext: encryptTo(transport.spkiPem, parts[0]!),
            transportKeySha256: transport.spkiSha256,
            confirmKcv: otherKcv,
          },
        }),
      );
      expect(mismatch.code).toBe('COMPONENT_KCV_MISMATCH');
      expect(mismatch.details).toEqual({ componentIndex: 1 });
      expect((await svc.status(id)).current).toBe('enter-component-1');

      for (const [k, part] of parts.entries()) {
        const i = k + 1;
        const ciphertext = encryptTo(transport.spkiPem, part);
        sent.push(ciphertext);
        const legacy = kcv('tdes-2key', part, 'legacy').kcv;
        const out = await svc.act(id, {
          stepId: `enter-component-${i}`,
          actor: custodian(i),
          confirmer: witness,
          input: { ciphertext, transportKeySha256: transport.spkiSha256, confirmKcv: legacy.toUpperCase() },
        });
        expect(out.details).toMatchObject({
          [`component${i}Kcv`]: legacy,
          [`component${i}KcvCmac`]: kcv('tdes-2key', part, 'cmac').kcv,
          [`component${i}Confirmed`]: true,
          transportKey: transport.spkiSha256,
        });
      }

      const formed = await svc.act(id, { stepId: 'form-key', actor: admin, confirmer: witness });
      expect(formed.details).toMatchObject({
        keyKcv: '08d7b4',
        tokenKcv: '08d7b4',
        keyType: 'tdes-2key',
        // TDES keys are combined in the host on every token (their degenerate-key checks need the key).
        combinedOn: 'host',
      });
      const keyId = formed.details.keyId as string;
      const obj = await engine.getObject({ slotId: hsm.slotId, id: keyId, class: 'secret' });
      expect(obj).toMatchObject({ token: true, sensitive: true, extractable: false, label: params.label });

      for (const p of [admin, witness, custodian(1), custodian(2)]) await svc.signOff(id, p);
      const exported = await svc.transcript(id);
      const verified = verifyTranscript(exported.text, signer.spkiSha256);
      expect(verified.record.ceremony.state).toBe('completed');
      const steps = verified.record.entries.filter((e) => e.action === 'step').map((e) => e.step!.id);
      expect(steps).toEqual(['preflight', 'identify', 'enter-component-1', 'enter-component-2', 'form-key']);
      // The signed transcript says where the components were combined.
      const formEntry = verified.record.entries.find((e) => e.step?.id === 'form-key');
      expect(formEntry?.details).toMatchObject({ combinedOn: 'host' });

      // Every file of the data folder: no component, no key, not even a component's ciphertext.
      const files = filesUnder(data).map((f) => f.slice(data.length + 1));
      expect(files).toEqual(
        expect.arrayContaining([
          'audit.jsonl',
          `ceremonies/${id}.json`,
          `ceremonies/${id}.mkmx`,
          'logs/host.jsonl',
        ]),
      );
      expect(readFileSync(join(data, 'logs', 'host.jsonl'), 'utf8')).toContain('Key formed from components');
      expect(leaks([...parts, Uint8Array.from(Buffer.from(KEY, 'hex'))], sent)).toEqual([]);
    });

    it('the scan would see a component that reached a file (it is no test that cannot fail)', () => {
      const planted = join(data, 'planted.txt');
      appendFileSync(planted, `note: ${groupComponent(parts[1]!).toLowerCase()}\n`);
      try {
        expect(leaks(parts)).toEqual([`${planted}: ${groupComponent(parts[1]!).toLowerCase().slice(0, 4)}…`]);
      } finally {
        rmSync(planted);
      }
    });

    it('a degenerate key is refused as often as it is tried, with one intent in the journal, and abort leaves nothing', async () => {
      const store = new CeremonyComponentStore(tokens);
      const svc = service(store);
      const id = await started(svc, { ...params, label: 'single des' }, 2);
      const transport = await store.transportKey(id, hsm.slotId);
      const bad = componentsOf('tdes-2key', '0123456789ABCDEF0123456789ABCDEF', [
        'A1B2C3D4E5F60718293A4B5C6D7E8F90',
      ]);
      for (const [k, part] of bad.entries()) {
        await svc.act(id, {
          stepId: `enter-component-${k + 1}`,
          actor: custodian(k + 1),
          confirmer: witness,
          input: { ciphertext: encryptTo(transport.spkiPem, part), transportKeySha256: transport.spkiSha256 },
        });
      }
      for (let attempt = 0; attempt < 10; attempt++) {
        const e = await failure(svc.act(id, { stepId: 'form-key', actor: admin, confirmer: witness }));
        expect(e.code).toBe('KEY_DEGENERATE');
      }
      const journal = new JournalStore(join(data, 'ceremonies')).load(id);
      expect(journal.intents).toHaveLength(1);
      const aborted = await svc.abort(id, { actor: witness, reason: 'the components form single DES' });
      expect(aborted.state).toBe('aborted');
      const left = await engine.listObjects({ slotId: hsm.slotId, class: 'secret' });
      expect(left.filter((o) => o.label === 'single des')).toEqual([]);
    });

    it('a token host restart loses the transport key: form-key asks for the components again, abort leaves nothing', async () => {
      const store = new CeremonyComponentStore(tokens);
      const svc = service(store);
      const id = await started(svc, { ...params, label: 'never formed' }, 2);
      const transport = await store.transportKey(id, hsm.slotId);
      for (const [k, part] of parts.entries()) {
        await svc.act(id, {
          stepId: `enter-component-${k + 1}`,
          actor: custodian(k + 1),
          confirmer: witness,
          input: { ciphertext: encryptTo(transport.spkiPem, part), transportKeySha256: transport.spkiSha256 },
        });
      }
      // The host's sessions end (as when it restarts): the session transport key is gone with them.
      await engine.unloadModule();
      await engine.loadModule({ path: hsm.modulePath, libraryParameters: hsm.libraryParameters });
      await engine.login({ slotId: hsm.slotId, pin: hsm.userPin });
      const e = await failure(svc.act(id, { stepId: 'form-key', actor: admin, confirmer: witness }));
      expect(e.code).toBe('CEREMONY_TRANSPORT_KEY_GONE');
      const aborted = await svc.abort(id, { actor: witness, reason: 'token host restarted' });
      expect(aborted.state).toBe('aborted');
      const left = await engine.listObjects({ slotId: hsm.slotId, class: 'secret' });
      expect(left.filter((o) => o.label === 'never formed')).toEqual([]);
    });
  });

  describe('an AES form-key ceremony', () => {
    it('records in its signed transcript where the components were combined, and writes no secret anywhere', async () => {
      const params: TemplateParams = {
        template: 'form-key',
        keyType: 'aes-128',
        components: 2,
        label: 'aes key from components',
        purpose: 'data',
      };
      const aesKey = '3F419E1CB7079442AA37474C2EFBF8B8';
      const aesParts = componentsOf('aes-128', aesKey, ['9C6F2A1B4D3E5F60718293A4B5C6D7E8']);
      const store = new CeremonyComponentStore(tokens);
      const svc = service(store);
      const id = await started(svc, params, 2);
      const transport = await store.transportKey(id, hsm.slotId);
      for (const [k, part] of aesParts.entries()) {
        await svc.act(id, {
          stepId: `enter-component-${k + 1}`,
          actor: custodian(k + 1),
          confirmer: witness,
          input: { ciphertext: encryptTo(transport.spkiPem, part), transportKeySha256: transport.spkiSha256 },
        });
      }
      const formed = await svc.act(id, { stepId: 'form-key', actor: admin, confirmer: witness });
      // Issue 11's known answer: cmac 08793E25AB.
      expect(formed.details).toMatchObject({ keyKcvCmac: '08793e', combinedOn: hsm.xor });
      for (const p of [admin, witness, custodian(1), custodian(2)]) await svc.signOff(id, p);
      const verified = verifyTranscript((await svc.transcript(id)).text, signer.spkiSha256);
      const formEntry = verified.record.entries.find((e) => e.step?.id === 'form-key');
      expect(formEntry?.details).toMatchObject({ combinedOn: hsm.xor });
      expect(leaks([...aesParts, Uint8Array.from(Buffer.from(aesKey, 'hex'))])).toEqual([]);
    });
  });

  describe('a split-key ceremony', () => {
    it('generates the key on the token and reveals each component to one custodian’s own key only', async () => {
      const store = new CeremonyComponentStore(tokens);
      const svc = service(store);
      const params: TemplateParams = {
        template: 'split-key',
        keyType: 'aes-256',
        components: 2,
        label: 'split data key',
        purpose: 'data',
      };
      const id = await started(svc, params, 2);
      const generated = await svc.act(id, { stepId: 'generate-key', actor: admin, confirmer: witness });
      const keyKcv = generated.details.keyKcv as string;
      const revealed: Uint8Array[] = [];
      for (const i of [1, 2]) {
        const eph = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const out = await svc.act(id, {
          stepId: `reveal-component-${i}`,
          actor: custodian(i),
          confirmer: witness,
          input: { revealKey: eph.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
        });
        const taken = { ciphertext: out.reply.component! };
        expect(JSON.stringify(out.details)).not.toContain(taken.ciphertext);
        const clear = Uint8Array.from(
          privateDecrypt(
            { key: eph.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
            Buffer.from(taken.ciphertext, 'base64'),
          ),
        );
        expect(out.details[`component${i}Kcv`]).toBe(kcv('aes-256', clear, 'legacy').kcv);
        revealed.push(clear);
      }
      const key = Uint8Array.from(revealed[0]!.map((b, j) => b ^ revealed[1]![j]!));
      expect(kcv('aes-256', key, 'legacy').kcv).toBe(keyKcv);
      for (const p of [admin, witness, custodian(1), custodian(2)]) await svc.signOff(id, p);
      expect(verifyTranscript((await svc.transcript(id)).text, signer.spkiSha256).record.ceremony.state).toBe(
        'completed',
      );
      expect(leaks([...revealed, key])).toEqual([]);
    });
  });
}
