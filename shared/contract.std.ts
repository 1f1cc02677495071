import { z } from 'zod';
import type { ClientApi, EventShape } from './contract-kit.std';
import { appContract } from './contract/app.std';
import { auditContract } from './contract/audit.std';
import { ceremonyContract } from './contract/ceremony.std';
import { consoleContract } from './contract/console.std';
import { exchangeContract } from './contract/exchange.std';
import { gatewayContract } from './contract/gateway.std';
import { keysContract } from './contract/keys.std';
import { lifecycleContract } from './contract/lifecycle.std';
import { reportContract } from './contract/report.std';
import { settingsContract, THEMES } from './contract/settings.std';
import { tokensContract } from './contract/tokens.std';
import { supportContract, troubleshootContract } from './contract/troubleshoot.std';

// The views many files name: one import path for them, this one.
export type { AppStatus } from './contract/app.std';
export type { AuditEntryView } from './contract/audit.std';
export type { GatewayProfileView, GatewayStatus } from './contract/gateway.std';
export type { LifecycleKeyView, LifecycleVersionView } from './contract/lifecycle.std';
export type { Settings } from './contract/settings.std';

/**
 * THE contract between the renderer and main. Every channel's request is a strict zod schema
 * (unknown keys, `__proto__` included, are rejected); its result is a type. The preload object
 * `window.mkm`, the main-process registry, the browser-mode bridge and the CLI transport are all
 * generated from this table, so a channel cannot exist on one side only.
 */

export const contract = {
  app: appContract,
  settings: settingsContract,
  tokens: tokensContract,
  keys: keysContract,
  audit: auditContract,
  lifecycle: lifecycleContract,
  gateway: gatewayContract,
  console: consoleContract,
  troubleshoot: troubleshootContract,
  support: supportContract,
  report: reportContract,
  exchange: exchangeContract,
  ceremony: ceremonyContract,
} as const;

export type Contract = typeof contract;
export type MkmApi = ClientApi<Contract> & { readonly events: EventsApi };

/**
 * The app states main announces as `state.changed`: the library, logins, the audit seal, gateway
 * sync, key ceremonies (any journal on this machine, whoever changed it).
 */
export const STATE_DOMAINS = ['library', 'login', 'seal', 'sync', 'ceremony'] as const;
export type StateDomain = (typeof STATE_DOMAINS)[number];

export const events = {
  'app.notice': z.strictObject({
    level: z.enum(['info', 'warning', 'error']),
    code: z.string().optional(),
    message: z.string(),
  }),
  progress: z.strictObject({
    operationId: z.string(),
    phase: z.string(),
    fraction: z.number().min(0).max(1).nullable(),
    message: z.string(),
  }),
  'settings.changed': z.strictObject({ theme: z.enum(THEMES) }),
  'tokens.changed': z.strictObject({
    inserted: z.array(z.strictObject({ slotId: z.number(), label: z.string(), serial: z.string() })),
    removed: z.array(z.strictObject({ slotId: z.number(), label: z.string(), serial: z.string() })),
  }),
  'tokens.connection': z.strictObject({ state: z.enum(['lost', 'restored', 'failed']), message: z.string() }),
  'tokens.loggedOut': z.strictObject({
    slotIds: z.array(z.number()),
    /** library-changed: another PKCS#11 library was chosen; the old one's logins ended with it. */
    reason: z.enum(['idle', 'connection', 'library-changed']),
  }),
  /**
   * Main's word that a piece of the app's state changed, whoever changed it (this page, another
   * window, a direct service call): every view reading that state reads it again.
   */
  'state.changed': z.strictObject({
    what: z.enum(STATE_DOMAINS),
    slotId: z.number().optional(),
    profileId: z.string().optional(),
  }),
  'gateway.rotationPending': z.strictObject({
    profileId: z.string(),
    fingerprint: z.string(),
    /** Which gateway key rotated; absent: the encryption key. */
    key: z.enum(['encryption', 'signing']).optional(),
  }),
} satisfies EventShape;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventListener<K extends EventName> = (payload: z.output<Events[K]>) => void;

export interface EventsApi {
  on<K extends EventName>(name: K, listener: EventListener<K>): () => void;
}
