import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../electron/core/atomic-file.nodejs';
import { FaultBoard } from '../../../electron/gateway/sandbox/faults.nodejs';
import { RateLimiter } from '../../../electron/gateway/sandbox/ratelimit.nodejs';
import { StateStore } from '../../../electron/gateway/sandbox/state.nodejs';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mkm-sb-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('replaces the file whole, 0600, leaving no temp file behind', () => {
    const f = join(dir, 'x.json');
    writeFileAtomic(f, 'one');
    writeFileAtomic(f, 'two');
    expect(readFileSync(f, 'utf8')).toBe('two');
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['x.json']);
  });
});

describe('StateStore', () => {
  it('round-trips its state through the file', () => {
    const a = StateStore.open(dir);
    a.state.users.u = { name: 'u', password_hash: 'scrypt$1$1$1$a$b', created_at: 'now' };
    a.nextSeq();
    a.save();
    const b = StateStore.open(dir);
    expect(b.state).toEqual(a.state);
  });

  it('refuses a file of the wrong shape rather than starting empty', () => {
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 2 }));
    expect(() => StateStore.open(dir)).toThrow(/unexpected shape/);
  });
});

describe('FaultBoard', () => {
  it('fires once, and keeps a fault armed until a call that can show it', () => {
    const f = new FaultBoard();
    f.arm('u', 'bad_mac');
    expect(f.take('u', { issuesSet: true, macs: false })).toBe('none');
    expect(f.take('other', { issuesSet: true, macs: true })).toBe('none');
    expect(f.take('u', { issuesSet: true, macs: true })).toBe('bad_mac');
    expect(f.take('u', { issuesSet: true, macs: true })).toBe('none');
  });
});

describe('RateLimiter', () => {
  it('allows max calls per window and says how long to wait', () => {
    let now = 0;
    const r = new RateLimiter({ max: 2, windowSeconds: 10 }, () => now);
    expect(r.take('a')).toBe(0);
    now = 4000;
    expect(r.take('a')).toBe(0);
    expect(r.take('a')).toBe(6);
    expect(r.take('b')).toBe(0);
    now = 10_001;
    expect(r.take('a')).toBe(0);
  });
});
