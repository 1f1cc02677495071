import { z } from 'zod';
import { channel, CONFIRMED, noArgs, slotOf } from '../contract-kit.std';
import type { MkmErrorShape } from '../errors.std';
import {
  SlotIdSchema,
  type CapabilitiesResult,
  type InitTokenResult,
  type LoginResult,
  type ModuleInfo,
  type OkResult,
  type SlotSummary,
  type WellKnownModule,
} from '../tokens.std';

/**
 * The PKCS#11 library, slots, tokens, logins and PINs (`tokens.*`).
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 */

const PATH = z.string().min(1).max(4096);
const PIN = z.string().min(1).max(256);

export interface ModuleState {
  source: 'override' | 'settings' | 'demo' | 'none';
  path: string | null;
  demo: boolean;
  demoLabel: string | null;
  demoAvailable: boolean;
  demoNeedsConsent: boolean;
  info: ModuleInfo | null;
  error: MkmErrorShape | null;
  /** Libraries a page may choose: the well-known ones found here, and those named at launch. */
  wellKnown: WellKnownModule[];
  /** Whether main has a file dialog to browse for another library (the desktop app). */
  canBrowse: boolean;
}

export const tokensContract = {
  modules: channel(noArgs, 'The PKCS#11 library in use, its C_GetInfo, and well-known ones.')
    .returns<ModuleState>()
    .notAudited('reads which PKCS#11 library is in use'),
  selectModule: channel(
    z.strictObject({
      path: PATH.nullable(),
      demo: z.boolean().optional(),
      libraryParameters: z.string().max(4096).nullable().optional(),
    }),
    'Use another PKCS#11 library among those main knows (well-known, named at launch, browsed), or the demo token.',
  )
    .returns<ModuleState>()
    .audited((r) => ({
      action: 'token.module.select',
      details: { path: r.path, demo: r.demo ?? false },
    })),
  browseModule: channel(
    z.strictObject({ libraryParameters: z.string().max(4096).nullable().optional() }),
    'Desktop app: pick a PKCS#11 library in main’s file dialog and use it (null when cancelled).',
  )
    .returns<ModuleState | null>()
    // The load itself is recorded by the tokens service (token.module.load: real path, SHA-256).
    .audited((_r, res) => ({
      action: 'token.module.browse',
      details: { path: (res as { path?: string | null } | null | undefined)?.path ?? null },
    })),
  list: channel(noArgs, 'Slots and tokens with their info and flags.')
    .returns<SlotSummary[]>()
    .notAudited('reads slots and token info'),
  login: channel(
    z.strictObject({
      slotId: SlotIdSchema,
      pin: PIN.optional(),
      userType: z.enum(['user', 'so']).optional(),
    }),
    'Log in with the user PIN (or on the PIN pad when no PIN is given).',
  )
    .returns<LoginResult>()
    // Runs while the log is unavailable (its entry held for the new segment): verifying the
    // seals and checking the token's head, the way out, need the login.
    .audited(
      (r) => ({
        action: 'token.login',
        details: { ...slotOf(r), userType: r.userType ?? 'user', pinPad: r.pin === undefined },
      }),
      { whenUnavailable: 'run' },
    ),
  cancel: channel(
    z.strictObject({ operationId: z.string().min(1).max(64) }),
    'Cancel an operation by its progress id: a token call it waits on is abandoned and the token connection restarted.',
  )
    .returns<{ cancelled: boolean }>()
    .audited(
      (r, res) => ({
        action: 'token.operation.cancel',
        details: {
          operationId: r.operationId,
          cancelled: (res as { cancelled?: boolean } | undefined)?.cancelled === true,
        },
      }),
      { whenUnavailable: 'run' },
    ),
  logout: channel(z.strictObject({ slotId: SlotIdSchema }), 'Log out of a token.')
    .returns<OkResult>()
    .audited((r) => ({ action: 'token.logout', details: slotOf(r) }), { whenUnavailable: 'run' }),
  changePin: channel(
    z.strictObject({ slotId: SlotIdSchema, oldPin: PIN, newPin: PIN }),
    "Change the logged-in user's PIN.",
  )
    .returns<OkResult>()
    .audited((r) => ({ action: 'token.pin.change', details: slotOf(r) })),
  initToken: channel(
    z.strictObject({
      slotId: SlotIdSchema,
      soPin: PIN,
      label: z.string().min(1).max(32),
      confirm: CONFIRMED,
    }),
    'Security officer: initialize (erase) a token.',
  )
    .returns<InitTokenResult>()
    .audited((r) => ({ action: 'token.init', details: { ...slotOf(r), label: r.label } })),
  initUserPin: channel(
    z.strictObject({ slotId: SlotIdSchema, soPin: PIN, userPin: PIN, confirm: CONFIRMED }),
    "Security officer: set the user's PIN.",
  )
    .returns<OkResult>()
    .audited((r) => ({ action: 'token.pin.init', details: slotOf(r) })),
  capabilities: channel(
    z.strictObject({ slotId: SlotIdSchema, refresh: z.boolean().optional() }),
    'What this token can really do, found by trying (cached per model and firmware).',
  )
    .returns<CapabilitiesResult & { cached: boolean }>()
    .notAudited('finds what the token can do with session objects it destroys at once; no key is kept'),
  knownCapabilities: channel(
    z.strictObject({ slotId: SlotIdSchema }),
    'What an earlier probe found this token can do, or null when it was never probed (never probes).',
  )
    .returns<(CapabilitiesResult & { cached: true }) | null>()
    .notAudited('reads the cached probe result'),
} as const;
