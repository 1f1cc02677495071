import { describe, expect, it, vi } from 'vitest';
import {
  canTransition,
  DEFAULT_POLICIES,
  dueAt,
  formatEnvelope,
  formatMacTag,
  inventoryProblem,
  mayProcess,
  mayProtect,
  parseEnvelope,
  parseMacTag,
} from '../../../electron/lifecycle/model.std';
import { UsageCounter } from '../../../electron/lifecycle/usage.nodejs';
import { MkmError } from '../../../shared/errors.std';
import { logicalKey, oneKey, version } from './fixtures';

const day = (n: number) => new Date(Date.parse('2026-01-01T00:00:00.000Z') + n * 86_400_000);

describe('states (SP 800-57 Pt 1 §7)', () => {
  it('allow the standard transitions only', () => {
    expect(canTransition('pre-activation', 'active')).toBe(true);
    expect(canTransition('active', 'deactivated')).toBe(true);
    expect(canTransition('suspended', 'active')).toBe(true);
    expect(canTransition('deactivated', 'destroyed')).toBe(true);
    expect(canTransition('compromised', 'destroyed')).toBe(true);
    expect(canTransition('active', 'destroyed')).toBe(false);
    expect(canTransition('deactivated', 'active')).toBe(false);
    expect(canTransition('destroyed', 'compromised')).toBe(false);
    expect(canTransition('compromised', 'active')).toBe(false);
  });

  it('protect with the active primary only; process with active and deactivated versions', () => {
    const key = logicalKey();
    const primary = version(key);
    expect(mayProtect(primary)).toBe(true);
    expect(mayProtect({ ...primary, primary: false })).toBe(false);
    expect(mayProtect({ ...primary, missingSince: '2026-01-02T00:00:00.000Z' })).toBe(false);
    expect(mayProcess({ ...primary, state: 'deactivated', primary: false })).toBe(true);
    for (const state of ['suspended', 'compromised', 'destroyed', 'pre-activation'] as const) {
      expect(mayProcess({ ...primary, state })).toBe(false);
    }
  });
});

describe('rotation policy', () => {
  it('defaults: data 1 year with a use limit, transport 1 year, kek and hmac 2 years', () => {
    expect(DEFAULT_POLICIES.data).toMatchObject({ cryptoPeriodDays: 365, maxUses: 100_000_000 });
    expect(DEFAULT_POLICIES['gateway-transport']).toMatchObject({ cryptoPeriodDays: 365, graceDays: 7 });
    expect(DEFAULT_POLICIES.kek.cryptoPeriodDays).toBe(730);
    expect(DEFAULT_POLICIES.hmac.cryptoPeriodDays).toBe(730);
  });

  it('age: warning within the lead time, due at the end of the period, overdue after the grace', () => {
    const { data, v1 } = oneKey();
    expect(dueAt(data, day(334)).due).toEqual([]);
    expect(dueAt(data, day(335)).due[0]).toMatchObject({
      level: 'warning',
      versionId: v1.id,
      reasons: [{ kind: 'age', level: 'warning', daysLeft: 30 }],
    });
    expect(dueAt(data, day(365)).due[0]!.reasons).toMatchObject([{ kind: 'age', level: 'due', daysLeft: 0 }]);
    expect(dueAt(data, day(395)).due[0]!.level).toBe('overdue');
  });

  it('uses: warning at 80 %, due at the limit, overdue at 110 %; batched counts included', () => {
    const { data, key, v1 } = oneKey();
    key.policy = { maxUses: 100 };
    const at = (uses: number) => dueAt(data, day(1), { usesOf: () => uses }).due[0];
    expect(at(79)).toBeUndefined();
    expect(at(80)).toMatchObject({ level: 'warning', reasons: [{ kind: 'uses', uses: 80, maxUses: 100 }] });
    expect(at(100)!.level).toBe('due');
    expect(at(110)!.level).toBe('overdue');
    v1.useCount = 95;
    expect(dueAt(data, day(1)).due[0]!.level).toBe('warning');
    // Purpose-wide overrides apply under the key's own policy: no warning below 100 % then.
    expect(dueAt(data, day(1), { policies: { data: { warnUsesFraction: 1 } } }).due).toEqual([]);
  });

  it('reports both reasons with the worst level, a key without a primary, and ended grace periods', () => {
    const { data, key, v1 } = oneKey();
    key.policy = { maxUses: 10 };
    v1.useCount = 12;
    const item = dueAt(data, day(340)).due[0]!;
    expect(item.level).toBe('overdue');
    expect(item.reasons.map((r) => r.kind)).toEqual(['age', 'uses']);

    const old = { ...v1, primary: false, graceUntil: day(10).toISOString() };
    const v2 = version(key, { version: 2, expiresAt: day(400).toISOString() });
    const rotated = { ...data, versions: [old, v2] };
    expect(dueAt(rotated, day(9)).graceExpired).toEqual([]);
    expect(dueAt(rotated, day(10)).graceExpired).toEqual([
      { logicalKeyId: key.id, versionId: v1.id, graceUntil: day(10).toISOString() },
    ]);

    const compromised = {
      ...v1,
      primary: false,
      state: 'compromised' as const,
      compromisedAt: day(1).toISOString(),
    };
    expect(dueAt({ ...data, versions: [compromised] }, day(2)).due[0]).toMatchObject({
      level: 'overdue',
      versionId: null,
      reasons: [{ kind: 'compromised', versionId: v1.id }],
    });
  });
});

describe('inventory invariants', () => {
  it('name the first problem a schema cannot see', () => {
    const { data, key, v1 } = oneKey();
    expect(inventoryProblem(data)).toBeNull();
    expect(inventoryProblem({ ...data, versions: [v1, version(key, { version: 2 })] })).toMatch(
      /2 primaries/,
    );
    expect(
      inventoryProblem({ ...data, versions: [v1, { ...v1, id: crypto.randomUUID(), primary: false }] }),
    ).toMatch(/version 1 twice/);
    expect(
      inventoryProblem({
        ...data,
        versions: [v1, version(key, { version: 2, primary: false, ckaId: v1.ckaId })],
      }),
    ).toMatch(/same token object/);
    expect(inventoryProblem({ ...data, logicalKeys: [] })).toMatch(/belongs to no logical key/);
  });
});

describe('the mkm1 envelope', () => {
  const e = {
    versionId: '0f8fad5b-d9cb-469f-a165-70867728950e',
    iv: 'AAAAAAAAAAAAAAAAAAAAAA==',
    ciphertext: 'q83v',
  };

  it('round-trips and names the key version', () => {
    const text = formatEnvelope(e);
    expect(text).toBe('mkm1:0f8fad5b-d9cb-469f-a165-70867728950e:AAAAAAAAAAAAAAAAAAAAAA==:q83v');
    expect(parseEnvelope(text)).toEqual(e);
  });

  it('refuses anything else with ENCODING_INVALID', () => {
    for (const bad of [
      'mkm2:0f8fad5b-d9cb-469f-a165-70867728950e:AAAAAAAAAAAAAAAAAAAAAA==:q83v',
      'mkm1:not-a-uuid:AAAAAAAAAAAAAAAAAAAAAA==:q83v',
      'mkm1:0f8fad5b-d9cb-469f-a165-70867728950e:AAAA:q83v',
      'mkm1:0f8fad5b-d9cb-469f-a165-70867728950e:AAAAAAAAAAAAAAAAAAAAAA==:',
      'mkm1:0f8fad5b-d9cb-469f-a165-70867728950e:AAAAAAAAAAAAAAAAAAAAAA==:q83v:extra',
    ]) {
      expect(() => parseEnvelope(bad)).toThrow(MkmError);
    }
  });
});

describe('the mkm1m MAC tag', () => {
  it('round-trips and refuses other text', () => {
    const tag = { versionId: '0f8fad5b-d9cb-469f-a165-70867728950e', mac: 'A'.repeat(43) + '=' };
    expect(parseMacTag(formatMacTag(tag))).toEqual(tag);
    expect(() => parseMacTag(`mkm1m:${tag.versionId}:AAAA`)).toThrow(MkmError);
    expect(() => parseMacTag(`mkm1:${tag.versionId}:${tag.mac}`)).toThrow(MkmError);
  });
});

describe('usage counter', () => {
  it('batches uses in memory and hands them over on flush, at the pending limit, never losing counts', () => {
    const sink = vi.fn();
    const counter = new UsageCounter(sink, { flushMs: 0, maxPending: 5 });
    counter.record('a');
    counter.record('a');
    counter.record('b');
    expect(sink).not.toHaveBeenCalled();
    expect(counter.pendingFor('a')).toBe(2);
    counter.flush();
    expect(sink).toHaveBeenCalledWith(
      new Map([
        ['a', 2],
        ['b', 1],
      ]),
    );
    for (let i = 0; i < 5; i++) counter.record('c');
    expect(sink).toHaveBeenLastCalledWith(new Map([['c', 5]]));

    sink.mockImplementation(() => {
      throw new Error('disk full');
    });
    counter.record('d', 3);
    expect(() => counter.flush()).toThrow('disk full');
    expect(counter.pendingFor('d')).toBe(3);
    counter.stop();
  });
});
