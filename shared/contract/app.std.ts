import { z } from 'zod';
import { channel, noArgs } from '../contract-kit.std';
import type { ModuleState } from './tokens.std';

/**
 * What the app is and where it runs (`app.*`).
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 */

export interface AppStatus {
  app: { name: string; version: string; packaged: boolean };
  mode: 'electron' | 'browser' | 'cli';
  runtime: { node: string; electron: string | null; chrome: string | null; platform: string; arch: string };
  dataDir: string;
  startedAt: string;
  store: { ok: boolean; restoredFrom: string | null };
  hsm: {
    modulePath: string | null;
    demo: boolean;
    /** Where the choice comes from (a CLI --module is an override). */
    source?: ModuleState['source'];
    /** Whether initialisation parameters go with the library (never the parameters themselves). */
    parameters?: boolean;
    /** The loaded library's own description, when it is loaded. */
    library?: string | null;
    /** Host calls the token has not answered for a while (see HsmClient's `waitingNoticeMs`). */
    waiting: TokenWaitView[];
  };
}

/** A token call main is waiting on: the operation (its `progress` id and channel) and how long. */
export interface TokenWaitView {
  /** Null for a call no operation made (a background seal or poll). */
  operationId: string | null;
  channel: string | null;
  method: string;
  waitingMs: number;
}

/** Hosts the app may open in the OS browser; everything else is refused. */
export const EXTERNAL_URL_ALLOWLIST = [
  'https://www.pcisecuritystandards.org/',
  'https://developers.paytrace.com/',
  'https://docs.oasis-open.org/pkcs11/',
] as const;

/** The code this process runs, as one hash people compare aloud before an offline ceremony. */
export interface BuildHash {
  version: string;
  /** SHA-256 over every file of the bundle that runs (or of the sources, run from them). */
  sha256: string;
  /** The same hash in PGP words, for reading aloud. */
  words: string[];
  /** What was hashed: the bundle folder(s) or the source folders. */
  roots: string[];
}

export const appContract = {
  status: channel(noArgs, 'What the app is, where its data lives, and how it runs.')
    .returns<AppStatus>()
    .notAudited('reads what the app is and where it runs'),
  buildHash: channel(noArgs, 'The hash of the code this app runs, to compare with the published one.')
    .returns<BuildHash>()
    .notAudited('reads the app’s own files; no key, token or data is touched'),
  openExternal: channel(
    z.strictObject({ url: z.url({ protocol: /^https$/ }).max(2048) }),
    'Open an allow-listed documentation link in the OS browser.',
  )
    .returns<{ opened: boolean }>()
    .notAudited(
      'opens an allow-listed documentation link in the OS browser; no key, token or data is touched',
    ),
} as const;
