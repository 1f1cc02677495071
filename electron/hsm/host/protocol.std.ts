import type { z } from 'zod';
import { isMkmErrorShape, MkmError, type MkmErrorShape } from '../../../shared/errors.std';
import {
  ChangePinParamsSchema,
  CipherParamsSchema,
  CreateCsrParamsSchema,
  DestroyObjectParamsSchema,
  EmptyParamsSchema,
  ExportPublicKeyParamsSchema,
  GenerateKeyParamsSchema,
  GenerateRandomParamsSchema,
  HmacSignParamsSchema,
  HmacVerifyParamsSchema,
  ImportKeyParamsSchema,
  InitTokenParamsSchema,
  InitUserPinParamsSchema,
  KeyRefParamsSchema,
  ListObjectsParamsSchema,
  ListSlotsParamsSchema,
  LoadModuleParamsSchema,
  LoginParamsSchema,
  ObjectRefParamsSchema,
  ReadAppDataParamsSchema,
  SignParamsSchema,
  SlotParamsSchema,
  UnwrapKeyParamsSchema,
  WrapKeyParamsSchema,
  WriteAppDataParamsSchema,
} from '../../../shared/tokens.std';
import {
  CeremonyTransportKeyParamsSchema,
  ComponentCheckParamsSchema,
  DropTransportKeyParamsSchema,
  FormKeyFromComponentsParamsSchema,
  RevealComponentParamsSchema,
  SplitKeyParamsSchema,
} from '../../../shared/ceremony/token-ops.std';
// M-of-N shares
import {
  ShareCheckParamsSchema,
  ShareRecoverKekParamsSchema,
  ShareRevealParamsSchema,
  ShareSplitKekParamsSchema,
} from '../../../shared/ceremony/share-ops.std';
// TR-31
import { Tr31ExportParamsSchema, Tr31ImportParamsSchema } from '../../../shared/ceremony/tr31-ops.std';
// Known exception to the suffix rule: a type-only import, erased at build, from which the method
// map below is derived; it goes when the host's methods become a table (issue 13, point 4).
// eslint-disable-next-line no-restricted-imports
import type { TokenEngine } from '../pkcs11/token-engine.host';

/**
 * The wire between main and the HSM host process. Both sides treat what arrives as untrusted:
 * a host that a vendor library has half-corrupted, or a stale host built from older code, must
 * produce a clean error on the other side, never a crash.
 */
export const HSM_PROTOCOL_VERSION = 1;

// Only the service's async methods cross the wire; anything else on the class is not an operation.
type AsyncMethodName<T> = {
  [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof T];

export type HsmMethodName = Extract<AsyncMethodName<TokenEngine>, string>;

/**
 * What the host will run, each method with the schema its params are parsed with, once, by the
 * dispatcher before the method sees them. TypeScript `private` helpers are ordinary prototype
 * methods at run time, so the host cannot tell them from operations by looking; this table can.
 * `satisfies` fails the typecheck when TokenEngine gains or loses a public method until the
 * table follows.
 */
export const HSM_METHODS = {
  loadModule: LoadModuleParamsSchema,
  unloadModule: EmptyParamsSchema,
  getModuleInfo: EmptyParamsSchema,
  wellKnownModules: EmptyParamsSchema,
  listSlots: ListSlotsParamsSchema,
  login: LoginParamsSchema,
  logout: SlotParamsSchema,
  changePin: ChangePinParamsSchema,
  initToken: InitTokenParamsSchema,
  initUserPin: InitUserPinParamsSchema,
  generateKey: GenerateKeyParamsSchema,
  listObjects: ListObjectsParamsSchema,
  getObject: ObjectRefParamsSchema,
  exportPublicKey: ExportPublicKeyParamsSchema,
  createCsr: CreateCsrParamsSchema,
  kcv: KeyRefParamsSchema,
  encrypt: CipherParamsSchema,
  decrypt: CipherParamsSchema,
  // The head only: the service checks up to 100,000 items by hand, which zod would make slower
  // than the token work itself. The items pass through unparsed to that check.
  encryptBatch: KeyRefParamsSchema.extend({ mechanism: CipherParamsSchema.shape.mechanism }).loose(),
  hmacSign: HmacSignParamsSchema,
  hmacVerify: HmacVerifyParamsSchema,
  sign: SignParamsSchema,
  wrapKey: WrapKeyParamsSchema,
  unwrapKey: UnwrapKeyParamsSchema,
  importKey: ImportKeyParamsSchema,
  destroyObject: DestroyObjectParamsSchema,
  generateRandom: GenerateRandomParamsSchema,
  probeCapabilities: SlotParamsSchema,
  readAppData: ReadAppDataParamsSchema,
  writeAppData: WriteAppDataParamsSchema,
  // Key ceremonies (issue 11 point 3): components travel only as ciphertexts (token-ops.std.ts).
  ceremonyTransportKey: CeremonyTransportKeyParamsSchema,
  ceremonyDropTransportKey: DropTransportKeyParamsSchema,
  componentCheck: ComponentCheckParamsSchema,
  formKeyFromComponents: FormKeyFromComponentsParamsSchema,
  splitKey: SplitKeyParamsSchema,
  revealComponent: RevealComponentParamsSchema,
  // M-of-N shares (issue 11 point 5): shares travel only as ciphertexts (share-ops.std.ts).
  shareSplitKek: ShareSplitKekParamsSchema,
  shareReveal: ShareRevealParamsSchema,
  shareCheck: ShareCheckParamsSchema,
  shareRecoverKek: ShareRecoverKekParamsSchema,
  // end M-of-N shares
  // TR-31 key blocks on the token (issue 11 point 4): tr31-ops.host.ts
  tr31Export: Tr31ExportParamsSchema,
  tr31Import: Tr31ImportParamsSchema,
} as const satisfies Record<HsmMethodName, z.ZodType>;

/** Params as the method gets them: parsed, or VALIDATION naming paths only (never a value: a PIN). */
export function parseHsmParams(schema: z.ZodType, params: unknown): unknown {
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`);
  throw new MkmError('VALIDATION', undefined, { issues });
}

type ParamsOf<F> = F extends (...args: infer A) => unknown ? (A extends [] ? undefined : A[0]) : never;
type ResultOf<F> = F extends (...args: never[]) => Promise<infer R> ? R : never;

/** The end-to-end type map: each TokenEngine method's single params object and its result. */
export type HsmMethods = {
  [K in HsmMethodName]: { params: ParamsOf<TokenEngine[K]>; result: ResultOf<TokenEngine[K]> };
};
export type HsmParams<K extends HsmMethodName> = HsmMethods[K]['params'];
export type HsmResult<K extends HsmMethodName> = HsmMethods[K]['result'];

// ---- main → host ----
export interface CallMessage {
  t: 'call';
  id: number;
  method: string;
  params: unknown;
}
/** Lets the host finalize the module (C_Finalize) before it exits. */
export interface ShutdownMessage {
  t: 'shutdown';
}
export type ParentMessage = CallMessage | ShutdownMessage;

// ---- host → main ----
export interface ResultMessage {
  t: 'result';
  id: number;
  result: unknown;
}
export interface ErrorMessage {
  t: 'error';
  id: number;
  error: MkmErrorShape;
}
export interface ReadyEvent {
  t: 'event';
  name: 'ready';
  pid: number;
  protocol: number;
}
export type ProgressPhase = 'started' | 'running';
export interface ProgressEvent {
  t: 'event';
  name: 'progress';
  id: number;
  phase: ProgressPhase;
  elapsedMs: number;
}
/** A host log record, already redacted by the host's logger. */
export interface LogEvent {
  t: 'event';
  name: 'log';
  record: HostLogRecord;
}
export interface HostLogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  [field: string]: unknown;
}
export type HostEvent = ReadyEvent | ProgressEvent | LogEvent;
export type HostMessage = ResultMessage | ErrorMessage | HostEvent;

export type Parsed<T> = { ok: true; message: T } | { ok: false; reason: string; id?: number };

// A method name is looked up as a property on the service: refuse anything that could reach
// Object.prototype or an internal helper.
const METHOD_NAME = /^[a-z][A-Za-z0-9]{0,63}$/;
const LEVELS = new Set(['debug', 'info', 'warn', 'error']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

const fail = <T>(reason: string, id?: unknown): Parsed<T> =>
  isId(id) ? { ok: false, reason, id } : { ok: false, reason };

export function isValidMethodName(name: unknown): name is string {
  return typeof name === 'string' && METHOD_NAME.test(name);
}

export function parseParentMessage(raw: unknown): Parsed<ParentMessage> {
  if (!isRecord(raw)) return fail('message is not an object');
  if (raw.t === 'shutdown') return { ok: true, message: { t: 'shutdown' } };
  if (raw.t !== 'call') return fail('unknown message type');
  if (!isId(raw.id)) return fail('call without a valid id');
  if (!isValidMethodName(raw.method)) return fail('invalid method name', raw.id);
  if (raw.params !== undefined && !isRecord(raw.params)) return fail('params must be an object', raw.id);
  return { ok: true, message: { t: 'call', id: raw.id, method: raw.method, params: raw.params } };
}

export function parseHostMessage(raw: unknown): Parsed<HostMessage> {
  if (!isRecord(raw)) return fail('message is not an object');
  switch (raw.t) {
    case 'result':
      if (!isId(raw.id)) return fail('result without a valid id');
      return { ok: true, message: { t: 'result', id: raw.id, result: raw.result } };
    case 'error':
      if (!isId(raw.id)) return fail('error without a valid id');
      if (!isMkmErrorShape(raw.error)) return fail('error is not an MkmErrorShape', raw.id);
      return { ok: true, message: { t: 'error', id: raw.id, error: raw.error } };
    case 'event':
      return parseHostEvent(raw);
    default:
      return fail('unknown message type');
  }
}

function parseHostEvent(raw: Record<string, unknown>): Parsed<HostMessage> {
  switch (raw.name) {
    case 'ready':
      if (!isId(raw.pid) || typeof raw.protocol !== 'number') return fail('ready event is malformed');
      return { ok: true, message: { t: 'event', name: 'ready', pid: raw.pid, protocol: raw.protocol } };
    case 'progress': {
      const { id, phase, elapsedMs } = raw;
      if (!isId(id)) return fail('progress event without a valid id');
      if (phase !== 'started' && phase !== 'running') return fail('progress event has an unknown phase', id);
      if (typeof elapsedMs !== 'number' || !(elapsedMs >= 0)) return fail('progress elapsedMs invalid', id);
      return { ok: true, message: { t: 'event', name: 'progress', id, phase, elapsedMs } };
    }
    case 'log': {
      const record = raw.record;
      if (!isRecord(record) || !LEVELS.has(record.level as string) || typeof record.msg !== 'string') {
        return fail('log event is malformed');
      }
      return { ok: true, message: { t: 'event', name: 'log', record: record as HostLogRecord } };
    }
    default:
      return fail('unknown event');
  }
}
