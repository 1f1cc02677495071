import { z } from 'zod';
import type { MkmErrorShape } from './errors.std';

/**
 * The machinery of the IPC contract: a channel pairs a runtime schema for its request with a
 * compile-time type for its result. Everything else (preload object, registry, CLI transport,
 * browser-mode bridge) is generated from the channel table in contract.std.ts.
 */
export interface Channel<Req extends z.ZodType, Res> {
  readonly request: Req;
  /** Phantom: carries the result type only. */
  readonly result?: Res;
  readonly description: string;
  /** What the audit trail keeps of a call: declared with the channel, so none can forget it. */
  readonly audit: AuditDeclaration;
}

/**
 * What one audited call leaves in the audit log (the registry adds its result, "ok" or the
 * error code). Identifiers and facts only: a mapper never copies a PIN, key material, card data
 * or a password out of the request.
 */
export interface AuditRecordSpec {
  action: string;
  key?: { id: string; kcv?: string; fingerprint?: string };
  details?: Record<string, unknown>;
}

/** Helpers a mapper may need that a pure file cannot import (main supplies node:crypto's). */
export interface AuditMapTools {
  sha256Hex(text: string): string;
}

/** Pure: the parsed request and, when the call succeeded, its result (undefined otherwise). */
export type AuditMapper = (
  request: Record<string, unknown>,
  result: unknown,
  tools: AuditMapTools,
) => AuditRecordSpec;

export interface AuditOptions {
  /**
   * The call still runs while the audit log is unavailable (tampered, unwritable), its entry
   * held until a new segment opens: only for the calls an admin needs to get out of that state.
   */
  whenUnavailable?: 'run';
}

export type AuditDeclaration =
  /** The registry records each call through `map`; the call is refused if the log cannot take it. */
  | { kind: 'audited'; map: AuditMapper; whenUnavailable?: 'run' }
  /** The service writes its own entries (several per call); refused if the log cannot take them. */
  | { kind: 'records-itself'; whenUnavailable?: 'run' }
  /** Never recorded, and never held up by the audit log; `reason` says why that is right. */
  | { kind: 'not-audited'; reason: string };

/** A channel whose result type is known but whose audit declaration is still missing. */
export interface UndeclaredChannel<Req extends z.ZodType, Res> {
  audited(map: AuditMapper, options?: AuditOptions): Channel<Req, Res>;
  recordsItself(options?: AuditOptions): Channel<Req, Res>;
  notAudited(reason: string): Channel<Req, Res>;
}

/**
 * `channel(schema, description).returns<Result>()` followed by exactly one of `.audited(mapper)`,
 * `.recordsItself()` or `.notAudited(reason)`: without one it is not a Channel, so a namespace
 * holding it fails the typecheck (and the registry refuses it at start-up).
 */
export function channel<Req extends z.ZodType>(request: Req, description: string) {
  return {
    returns: <Res>(): UndeclaredChannel<Req, Res> => {
      const declare = (audit: AuditDeclaration): Channel<Req, Res> => ({ request, description, audit });
      return {
        audited: (map, options) => declare({ kind: 'audited', map, ...options }),
        recordsItself: (options) => declare({ kind: 'records-itself', ...options }),
        notAudited: (reason) => declare({ kind: 'not-audited', reason }),
      };
    },
  };
}

/** A request that takes no argument. Anything sent is rejected, so a confused caller learns early. */
export const noArgs = z.undefined();

/** Destructive and security-officer steps carry an explicit yes from the user. */
export const CONFIRMED = z.literal(true);

/** The slot of a request, for an audit entry's details. */
export const slotOf = (r: Record<string, unknown>) => ({ slotId: r.slotId as number });

export type AnyChannel = Channel<z.ZodType, unknown>;
export type Namespace = Record<string, AnyChannel>;
export type ContractShape = Record<string, Namespace>;

export type RequestOf<C> = C extends Channel<infer Req, unknown> ? z.input<Req> : never;
export type ParsedRequestOf<C> = C extends Channel<infer Req, unknown> ? z.output<Req> : never;
export type ResultOf<C> = C extends Channel<z.ZodType, infer Res> ? Res : never;

/** The function the renderer calls: no parameter for no-argument channels. */
export type ClientFn<C> =
  C extends Channel<infer Req, infer Res>
    ? z.input<Req> extends undefined
      ? () => Promise<Res>
      : (request: z.input<Req>) => Promise<Res>
    : never;

export type ClientApi<T extends ContractShape> = {
  readonly [NS in keyof T]: { readonly [M in keyof T[NS]]: ClientFn<T[NS][M]> };
};

/** What a transport carries back: never a thrown error, which Electron would flatten to a string. */
export type Envelope<R = unknown> = { ok: true; result: R } | { ok: false; error: MkmErrorShape };

export type EventShape = Record<string, z.ZodType>;
export type EventPayload<E extends EventShape, K extends keyof E> = z.output<E[K]>;

/** Every channel's audit declaration, by "namespace.method". */
export function auditDeclarations(contract: ContractShape): Map<string, AuditDeclaration> {
  const out = new Map<string, AuditDeclaration>();
  for (const [ns, methods] of Object.entries(contract)) {
    for (const [method, def] of Object.entries(methods)) out.set(`${ns}.${method}`, def.audit);
  }
  return out;
}

export function channelNames(contract: ContractShape): string[] {
  return Object.entries(contract).flatMap(([ns, methods]) => Object.keys(methods).map((m) => `${ns}.${m}`));
}
