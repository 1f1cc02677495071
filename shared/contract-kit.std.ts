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
}

export function channel<Req extends z.ZodType>(request: Req, description: string) {
  return { returns: <Res>(): Channel<Req, Res> => ({ request, description }) };
}

/** A request that takes no argument. Anything sent is rejected, so a confused caller learns early. */
export const noArgs = z.undefined();

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

export function channelNames(contract: ContractShape): string[] {
  return Object.entries(contract).flatMap(([ns, methods]) => Object.keys(methods).map((m) => `${ns}.${m}`));
}
