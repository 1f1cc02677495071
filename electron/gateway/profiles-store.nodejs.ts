import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { MkmError } from '../../shared/errors.std';
import { issueLines } from '../../shared/formats/schemas.std';
import { writeFileAtomic } from '../core/atomic-file.nodejs';
import { GatewayProfileSchema, parseGatewayProfile, type GatewayProfile } from './client/profiles.nodejs';

/**
 * The gateway profiles the admin set up, in `<dataDir>/gateway/profiles.json` (mode 0600,
 * rewritten atomically). A profile holds no secret: the gateway password comes from a
 * SecretProvider at each sign-in. A damaged file is reported (STORE_CORRUPT) and left as it
 * is, never replaced by an empty list: that would silently drop the TLS pins it holds.
 */

const FileSchema = z.strictObject({
  version: z.literal(1),
  profiles: z.array(GatewayProfileSchema),
});

export class GatewayProfilesStore {
  readonly file: string;

  constructor(readonly dir: string) {
    this.file = join(dir, 'profiles.json');
  }

  /** Read at each call: the CLI, browser mode and the app may share one data folder. */
  list(): GatewayProfile[] {
    if (!existsSync(this.file)) return [];
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (error) {
      if ((error as { code?: string }).code && !(error instanceof SyntaxError)) {
        throw new MkmError('IO_ERROR', 'The gateway profiles file could not be read.', { file: this.file });
      }
      throw new MkmError('STORE_CORRUPT', 'The gateway profiles file is not valid JSON.', {
        file: this.file,
      });
    }
    const parsed = FileSchema.safeParse(json);
    if (!parsed.success) {
      throw new MkmError('STORE_CORRUPT', 'The gateway profiles file is damaged.', {
        file: this.file,
        issues: issueLines(parsed.error).slice(0, 10),
      });
    }
    return parsed.data.profiles;
  }

  get(id: string): GatewayProfile {
    const found = this.list().find((p) => p.id === id);
    if (!found) throw new MkmError('NOT_FOUND', `No gateway profile "${id}".`, { profileId: id });
    return found;
  }

  add(input: unknown): GatewayProfile {
    const profile = parseGatewayProfile(input);
    const profiles = this.list();
    if (profiles.some((p) => p.id === profile.id)) {
      throw new MkmError('CONFLICT', `A gateway profile "${profile.id}" already exists.`, {
        profileId: profile.id,
      });
    }
    this.write([...profiles, profile]);
    return profile;
  }

  /** Adds, or replaces the profile with the same id in place. */
  put(input: unknown): GatewayProfile {
    const profile = parseGatewayProfile(input);
    const profiles = this.list();
    const at = profiles.findIndex((p) => p.id === profile.id);
    if (at === -1) profiles.push(profile);
    else profiles[at] = profile;
    this.write(profiles);
    return profile;
  }

  /** False when there was no such profile. */
  remove(id: string): boolean {
    const profiles = this.list();
    const rest = profiles.filter((p) => p.id !== id);
    if (rest.length === profiles.length) return false;
    this.write(rest);
    return true;
  }

  private write(profiles: GatewayProfile[]): void {
    const valid = FileSchema.parse({ version: 1, profiles });
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      writeFileAtomic(this.file, JSON.stringify(valid, null, 2) + '\n');
    } catch (error) {
      throw new MkmError('IO_ERROR', 'The gateway profiles file could not be written.', {
        file: this.file,
        reason: (error as { code?: string }).code ?? 'unknown',
      });
    }
  }
}

/** A profile id from a display name: "Sandbox EU" -> "sandbox-eu". */
export function profileIdFromName(name: string): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 64);
  return slug || 'gateway';
}
