import { z } from 'zod';

/** Browser mode's wire format over the loopback WebSocket. The payloads are the contract's. */
export const clientMessage = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('hello'), secret: z.string().min(1).max(256) }),
  z.strictObject({
    t: z.literal('call'),
    id: z.number().int().nonnegative(),
    channel: z.string().max(200),
    request: z.unknown().optional(),
  }),
]);
export type ClientMessage = z.infer<typeof clientMessage>;

export type ServerMessage =
  | { t: 'ready' }
  | { t: 'result'; id: number; envelope: unknown }
  | { t: 'event'; name: string; payload: unknown }
  | { t: 'refused'; code: string; message: string };

export const SECRET_FRAGMENT_KEY = 'mkm-secret';
export const WS_PATH = '/ipc';
/** The one-time launch link: `/launch?code=…`. */
export const LAUNCH_PATH = '/launch';
export const LAUNCH_CODE_PARAM = 'code';
