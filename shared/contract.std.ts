import { z } from 'zod';
import { channel, noArgs, type ClientApi, type EventShape } from './contract-kit.std';

/**
 * THE contract between the renderer and main. Every channel's request is a strict zod schema
 * (unknown keys, `__proto__` included, are rejected); its result is a type. The preload object
 * `window.mkm`, the main-process registry, the browser-mode bridge and the CLI transport are all
 * generated from this table, so a channel cannot exist on one side only.
 */

const PATH = z.string().min(1).max(4096);

export const THEMES = ['system', 'light', 'dark'] as const;

export const settingsPatch = z.strictObject({
  theme: z.enum(THEMES).optional(),
  idleLogoutMinutes: z.number().int().min(1).max(240).optional(),
  modulePath: PATH.nullable().optional(),
  confirmDemoToken: z.boolean().optional(),
});

export interface Settings {
  theme: (typeof THEMES)[number];
  idleLogoutMinutes: number;
  modulePath: string | null;
  confirmDemoToken: boolean;
}

export interface AppStatus {
  app: { name: string; version: string; packaged: boolean };
  mode: 'electron' | 'browser' | 'cli';
  runtime: { node: string; electron: string | null; chrome: string | null; platform: string; arch: string };
  dataDir: string;
  startedAt: string;
  store: { ok: boolean; restoredFrom: string | null };
  hsm: { modulePath: string | null; demo: boolean };
}

/** Hosts the app may open in the OS browser; everything else is refused. */
export const EXTERNAL_URL_ALLOWLIST = [
  'https://www.pcisecuritystandards.org/',
  'https://developers.paytrace.com/',
  'https://docs.oasis-open.org/pkcs11/',
] as const;

export const contract = {
  app: {
    status: channel(noArgs, 'What the app is, where its data lives, and how it runs.').returns<AppStatus>(),
    openExternal: channel(
      z.strictObject({ url: z.url({ protocol: /^https$/ }).max(2048) }),
      'Open an allow-listed documentation link in the OS browser.',
    ).returns<{ opened: boolean }>(),
  },
  settings: {
    get: channel(noArgs, 'Read the user settings.').returns<Settings>(),
    update: channel(settingsPatch, 'Change some user settings.').returns<Settings>(),
  },
} as const;

export type Contract = typeof contract;
export type MkmApi = ClientApi<Contract> & { readonly events: EventsApi };

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
} satisfies EventShape;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventListener<K extends EventName> = (payload: z.output<Events[K]>) => void;

export interface EventsApi {
  on<K extends EventName>(name: K, listener: EventListener<K>): () => void;
}
