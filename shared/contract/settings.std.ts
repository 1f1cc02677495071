import { z } from 'zod';
import { channel, noArgs } from '../contract-kit.std';

/**
 * The user settings (`settings.*`).
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 */

export const THEMES = ['system', 'light', 'dark'] as const;

export const settingsPatch = z.strictObject({
  theme: z.enum(THEMES).optional(),
  idleLogoutMinutes: z.number().int().min(1).max(240).optional(),
  confirmDemoToken: z.boolean().optional(),
  firstRunGuideDismissed: z.boolean().optional(),
});

export interface Settings {
  theme: (typeof THEMES)[number];
  idleLogoutMinutes: number;
  confirmDemoToken: boolean;
  /** The dashboard's first-run guide was put away (the dashboard offers it back). */
  firstRunGuideDismissed: boolean;
}

export const settingsContract = {
  get: channel(noArgs, 'Read the user settings.').returns<Settings>().notAudited('reads the settings'),
  update: channel(settingsPatch, 'Change some user settings.')
    .returns<Settings>()
    .audited((r) => ({ action: 'settings.update', details: { fields: Object.keys(r) } })),
} as const;
