import { hash } from 'node:crypto';
import type { ErrorCode } from '../../shared/errors.std';
import {
  SEAL_KINDS,
  SEAL_KIND_WORDS,
  keyRefOut,
  sealKindOf,
  sealLengthOk,
  type AuditKeyHandle,
  type SealKind,
} from './sealer.nodejs';

/**
 * The two line types of the audit log and their text form. Lines are written by
 * `serialize*`; on read every field is type-checked and no field beyond the known ones is
 * accepted, so a line cannot carry data the viewer does not show. Integrity itself does not
 * rest on these checks: the chain and the seals cover the exact bytes. Seal lines (rare, and
 * what the MAC is about) must also be byte-for-byte canonical; entry lines are not re-serialized
 * because that would cost a quarter of verify's budget for no added protection.
 */

export const FORMAT_VERSION = 1;
/** `prev` of the first line: there is no line before it. */
export const GENESIS = '0'.repeat(64);
export const LOG_FILE = 'audit.log';
export const STATE_FILE = 'audit.state.json';
export const LOCK_FILE = 'audit.lock';
/** A details object bigger than this is a bug (a payload dumped into the log), not an audit fact. */
export const MAX_DETAILS_CHARS = 16 * 1024;

export interface AuditTokenRef {
  serial: string;
  label: string;
}

export interface AuditActor {
  /** OS account running the app. */
  osUser: string;
  /** The token the admin is logged in to, or null when none is. */
  token: AuditTokenRef | null;
}

/** Names a key without holding it: CKA_ID plus KCV (secret keys) or SPKI SHA-256 (public keys). */
export interface AuditKeyRef {
  id: string;
  kcv?: string;
  fingerprint?: string;
}

export type AuditResult = 'ok' | ErrorCode;
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface AuditEntryRecord {
  v: 1;
  seq: number;
  type: 'entry';
  time: string;
  actor: AuditActor;
  action: string;
  key?: AuditKeyRef;
  /** 'ok' or the MkmError code the action ended with. */
  result: string;
  details?: { [key: string]: JsonValue };
  prev: string;
}

export interface AuditSealRecord {
  v: 1;
  seq: number;
  type: 'seal';
  time: string;
  /** [first, last] seq this seal adds to the sealed prefix. */
  covers: [number, number];
  /** SHA-256 (hex) of the exact bytes of the line at covers[1]. */
  head: string;
  sealKey: AuditKeyHandle;
  /** The seal (hex) over `sealMessage(...)`, made by the token: a MAC or a signature, by sealKey.kind. */
  mac: string;
  prev: string;
}

export type AuditRecord = AuditEntryRecord | AuditSealRecord;

export const ACTION_PATTERN = /^[a-z][a-z0-9-]*(?:\.[a-z0-9-]+){0,4}$/;
const RESULT_PATTERN = /^(?:ok|[A-Z][A-Z0-9_]{1,63})$/;
const HEX64 = /^[0-9a-f]{64}$/;
const HEX = /^(?:[0-9a-f]{2})+$/;
const HEX_ID = /^(?:[0-9a-f]{2}){0,128}$/;
const KCV_PATTERN = /^[0-9a-f]{6,16}$/;
// ISO 8601 as Date#toISOString writes it; the clock is injectable, the format is not.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function serializeActor(actor: AuditActor): AuditActor {
  return {
    osUser: actor.osUser,
    token: actor.token === null ? null : { serial: actor.token.serial, label: actor.token.label },
  };
}

function serializeKey(key: AuditKeyRef): AuditKeyRef {
  const out: AuditKeyRef = { id: key.id };
  if (key.kcv !== undefined) out.kcv = key.kcv;
  if (key.fingerprint !== undefined) out.fingerprint = key.fingerprint;
  return out;
}

export function serializeEntry(r: AuditEntryRecord): string {
  const o: Record<string, unknown> = {
    v: FORMAT_VERSION,
    seq: r.seq,
    type: 'entry',
    time: r.time,
    actor: serializeActor(r.actor),
    action: r.action,
  };
  if (r.key !== undefined) o.key = serializeKey(r.key);
  o.result = r.result;
  if (r.details !== undefined) o.details = r.details;
  o.prev = r.prev;
  return JSON.stringify(o);
}

export function serializeSeal(r: AuditSealRecord): string {
  return JSON.stringify({
    v: FORMAT_VERSION,
    seq: r.seq,
    type: 'seal',
    time: r.time,
    covers: [r.covers[0], r.covers[1]],
    head: r.head,
    sealKey: keyRefOut(r.sealKey),
    mac: r.mac,
    prev: r.prev,
  });
}

/**
 * What the token MACs for a seal. Everything a seal line claims except its own seq and prev
 * (unknown until the MAC is back; the chain and the next seal cover those), so even the newest
 * seal line cannot be edited. The domain prefix keeps these MACs from being confused with any
 * other use of an HMAC key.
 */
export function sealMessage(
  first: number,
  last: number,
  head: string,
  time: string,
  key: AuditKeyHandle,
): Buffer {
  // HMAC seals keep the message they had before there were kinds; any other kind is named in it.
  const kind = sealKindOf(key);
  const tail = kind === 'hmac' ? '' : `|${kind}`;
  return Buffer.from(
    `mkm-audit-seal|v1|${first}|${last}|${head}|${time}|${key.id}|${key.kcv}${tail}`,
    'utf8',
  );
}

/**
 * One call per line, no Hash object: verify hashes every line of the log, and building and
 * collecting 100,000 Hash objects cost as much as the hashing itself (bench/audit.bench.ts).
 */
export function sha256Hex(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'hex');
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown, max = 256): value is string {
  return typeof value === 'string' && value.length <= max;
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

function keyCount(value: object): number {
  let n = 0;
  for (const _k in value) n++;
  return n;
}

function parseActor(value: unknown): AuditActor | string {
  if (!isPlainObject(value) || keyCount(value) !== 2) return 'actor is not {osUser, token}';
  if (!isString(value.osUser)) return 'actor.osUser is not a string';
  const token = value.token;
  if (token === null) return { osUser: value.osUser, token: null };
  if (!isPlainObject(token) || keyCount(token) !== 2 || !isString(token.serial) || !isString(token.label)) {
    return 'actor.token is not {serial, label} or null';
  }
  return { osUser: value.osUser, token: { serial: token.serial, label: token.label } };
}

export function checkKeyRef(key: unknown): string | null {
  if (!isPlainObject(key)) return 'key is not an object';
  if (typeof key.id !== 'string' || !HEX_ID.test(key.id)) return 'key.id is not lowercase hex (CKA_ID)';
  if (key.kcv !== undefined && (typeof key.kcv !== 'string' || !KCV_PATTERN.test(key.kcv))) {
    return 'key.kcv is not 3-8 bytes of lowercase hex';
  }
  if (
    key.fingerprint !== undefined &&
    (typeof key.fingerprint !== 'string' || !HEX64.test(key.fingerprint))
  ) {
    return 'key.fingerprint is not a lowercase hex SHA-256';
  }
  return null;
}

export function checkSealKey(key: unknown): string | null {
  if (!isPlainObject(key)) return 'sealKey is not an object';
  if (typeof key.id !== 'string' || !HEX_ID.test(key.id)) return 'sealKey.id is not lowercase hex';
  if (typeof key.kcv !== 'string' || !KCV_PATTERN.test(key.kcv)) return 'sealKey.kcv is not lowercase hex';
  if (key.kind !== undefined && (key.kind === 'hmac' || !SEAL_KINDS.includes(key.kind as SealKind))) {
    return 'sealKey.kind is not a seal kind';
  }
  return null;
}

export function isIsoTime(value: unknown): value is string {
  return typeof value === 'string' && ISO_TIME.test(value);
}

export function isResult(value: unknown): value is string {
  return typeof value === 'string' && RESULT_PATTERN.test(value);
}

/** One line (without its newline) to a record, or a sentence saying why it is not one. */
export function parseLine(text: string): AuditRecord | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (!isPlainObject(raw)) return 'not a JSON object';
  if (raw.v !== FORMAT_VERSION) return `unknown format version ${JSON.stringify(raw.v)}`;
  if (!isSeq(raw.seq)) return 'seq is not a positive integer';
  if (!isIsoTime(raw.time)) return 'time is not an ISO 8601 UTC time';
  if (!isString(raw.prev, 64) || !HEX64.test(raw.prev)) return 'prev is not a hex SHA-256';
  if (raw.type === 'entry') {
    const actor = parseActor(raw.actor);
    if (typeof actor === 'string') return actor;
    if (!isString(raw.action, 64) || !ACTION_PATTERN.test(raw.action)) return 'action is not a valid name';
    if (raw.key !== undefined) {
      const bad = checkKeyRef(raw.key);
      if (bad) return bad;
    }
    if (!isResult(raw.result)) return 'result is not "ok" or an error code';
    if (raw.details !== undefined && !isPlainObject(raw.details)) return 'details is not an object';
    if (keyCount(raw) !== 8 + (raw.key === undefined ? 0 : 1) + (raw.details === undefined ? 0 : 1)) {
      return 'the entry has unknown fields';
    }
    return raw as unknown as AuditEntryRecord;
  } else if (raw.type === 'seal') {
    const c = raw.covers;
    if (!Array.isArray(c) || c.length !== 2 || !isSeq(c[0]) || !isSeq(c[1]) || c[0] > c[1]) {
      return 'covers is not [first, last]';
    }
    if (!isString(raw.head, 64) || !HEX64.test(raw.head)) return 'head is not a hex SHA-256';
    const badKey = checkSealKey(raw.sealKey);
    if (badKey) return badKey;
    const kind = sealKindOf(raw.sealKey as AuditKeyHandle);
    if (!isString(raw.mac, 1024) || !HEX.test(raw.mac) || !sealLengthOk(kind, raw.mac.length / 2)) {
      return `mac is not a hex ${SEAL_KIND_WORDS[kind]}`;
    }
    const record = raw as unknown as AuditSealRecord;
    if (serializeSeal(record) !== text) return 'the seal is not in canonical form';
    return record;
  }
  return 'type is neither "entry" nor "seal"';
}
