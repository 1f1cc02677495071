import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditAppend } from '../../../electron/audit/audit-log.nodejs';
import type { HsmMethodName, HsmParams, HsmResult } from '../../../electron/hsm/host/protocol.std';
import type { ObjectInfo } from '../../../shared/tokens.std';
import { KeyLifecycleService, type TokenCaller } from '../../../electron/lifecycle/lifecycle.nodejs';
import { MkmError } from '../../../shared/errors.std';

/**
 * The service's own decisions with the token boundary faked (the real token path is in
 * test/integration/keys): which slot it talks to when tokens move, what it audits.
 */
class FakeToken implements TokenCaller {
  slots = new Map<number, { serial: string; objects: ObjectInfo[] }>();
  calls: { method: string; slotId?: number }[] = [];
  /** Usages the token insists on beyond mkm's template (tpm2-pkcs11's RSA keys). */
  insists: string[] = [];

  async call<K extends HsmMethodName>(method: K, params: HsmParams<K>): Promise<HsmResult<K>> {
    const p = (params ?? {}) as {
      slotId?: number;
      id?: string;
      label?: string;
      data?: string;
      acceptWiderUsage?: boolean;
    };
    this.calls.push({ method, slotId: p.slotId });
    const slot = p.slotId === undefined ? undefined : this.slots.get(p.slotId);
    const find = () => {
      const o = slot?.objects.find((x) => x.id === p.id);
      if (!o) throw new MkmError('KEY_NOT_FOUND');
      return o;
    };
    const result = ((): unknown => {
      switch (method) {
        case 'listSlots':
          return [...this.slots].map(([slotId, s]) => ({ slotId, token: { serial: s.serial.padEnd(16) } }));
        case 'listObjects':
          return slot?.objects ?? [];
        case 'generateKey': {
          if (this.insists.length && !p.acceptWiderUsage) {
            throw new MkmError('KEY_TEMPLATE_REFUSED', undefined, { refused: this.insists });
          }
          const id = randomBytes(16).toString('hex');
          const o = secret(id, p.label!);
          slot!.objects.push(o);
          return { id, objects: [o], ...(this.insists.length ? { widerUsage: this.insists } : {}) };
        }
        case 'kcv':
          find();
          return { kcv: p.id!.slice(0, 6), method: 'cmac' };
        case 'generateRandom':
          return { data: randomBytes(16).toString('base64') };
        case 'encrypt':
        case 'decrypt':
          find();
          return { data: p.data };
        default:
          throw new MkmError('NOT_IMPLEMENTED', method);
      }
    })();
    return result as HsmResult<K>;
  }
}

function secret(id: string, label: string): ObjectInfo {
  return {
    id,
    class: 'secret',
    label,
    keyType: 'aes',
    bits: 256,
    token: true,
    private: true,
    local: true,
    sensitive: true,
    extractable: false,
    alwaysSensitive: true,
    neverExtractable: true,
    usages: ['encrypt', 'decrypt'],
  };
}

let dir: string;
let token: FakeToken;
let audited: AuditAppend[];
let keys: KeyLifecycleService;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mkm-keys-fake-'));
  token = new FakeToken();
  token.slots.set(1, { serial: 'A', objects: [] });
  audited = [];
  keys = KeyLifecycleService.open({
    dir,
    tokens: token,
    audit: (e) => void audited.push(e),
    clock: () => new Date('2026-01-01T00:00:00.000Z'),
    usageFlushMs: 0,
  });
});

afterEach(async () => {
  await keys.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the key service, token faked', () => {
  it('audits each journaled step with the key’s CKA_ID and KCV', async () => {
    const { version } = await keys.createKey({ name: 'd', purpose: 'data', tokenSerial: 'A' });
    expect(audited.map((e) => [e.action, e.result])).toEqual([
      ['key.rotate.plan', 'ok'],
      ['key.generate', 'ok'],
      ['key.rotate.promote', 'ok'],
      ['key.rotate.complete', 'ok'],
    ]);
    // The plan has no token object yet; every later entry names it.
    expect(audited[0]!.key).toBeUndefined();
    expect(audited[1]!.key).toEqual({ id: version.ckaId, kcv: version.ckaId!.slice(0, 6) });
    expect(audited[2]!.details).toMatchObject({ versionId: version.id, version: 1, replacedVersion: null });
  });

  it('says TOKEN_NOT_PRESENT when the key’s token is not inserted, before planning anything', async () => {
    await expect(keys.createKey({ name: 'd', purpose: 'data', tokenSerial: 'B' })).rejects.toMatchObject({
      code: 'TOKEN_NOT_PRESENT',
    });
    expect(keys.list().versions).toEqual([]);
  });

  it('follows a token to its new slot, and never creates a key in a slot without looking again', async () => {
    const { logicalKey } = await keys.createKey({ name: 'd', purpose: 'data', tokenSerial: 'A' });
    // The token moves to slot 2; another token takes slot 1.
    const moved = token.slots.get(1)!;
    token.slots.set(2, moved);
    token.slots.set(1, { serial: 'B', objects: [] });
    token.calls = [];
    const env = await keys.encryptWithPrimary(logicalKey.id, Buffer.from('x'));
    expect(token.calls.filter((c) => c.method === 'encrypt').map((c) => c.slotId)).toEqual([1, 2]);
    expect((await keys.decrypt(env)).toString()).toBe('x');

    token.slots.set(3, moved);
    token.slots.delete(2);
    token.calls = [];
    await keys.rotateNow(logicalKey.id);
    const generate = token.calls.find((c) => c.method === 'generateKey')!;
    expect(generate.slotId).toBe(3);
    expect(token.slots.get(1)!.objects).toEqual([]);
  });

  it('keeps a key with the wider usage the token insists on only when the admin accepts it, and audits it', async () => {
    token.insists = ['secret:derive'];
    await expect(keys.createKey({ name: 'd', purpose: 'data', tokenSerial: 'A' })).rejects.toMatchObject({
      code: 'KEY_TEMPLATE_REFUSED',
    });
    expect(audited.map((e) => e.action)).not.toContain('key.generate');
    expect(token.slots.get(1)!.objects).toEqual([]);
    // Asked again with the acceptance, the refused creation goes on (no name conflict with itself).
    const { logicalKey, version } = await keys.createKey({
      name: 'd',
      purpose: 'data',
      tokenSerial: 'A',
      acceptWiderUsage: true,
    });
    expect(version.ckaId).toMatch(/^[0-9a-f]{32}$/);
    const wider = audited.filter((e) => e.action === 'key.generate.wider-usage');
    expect(wider).toHaveLength(1);
    expect(wider[0]!.details).toMatchObject({
      widerUsage: ['secret:derive'],
      acceptedBy: 'admin',
      version: 1,
    });

    await expect(keys.rotateNow(logicalKey.id)).rejects.toMatchObject({ code: 'KEY_TEMPLATE_REFUSED' });
    const v2 = await keys.rotateNow(logicalKey.id, 'manual', { acceptWiderUsage: true });
    expect(v2.version).toBe(2);
    expect(audited.filter((e) => e.action === 'key.generate.wider-usage')).toHaveLength(2);
  });
});
