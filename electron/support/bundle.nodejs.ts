import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import pkg from '../../package.json' with { type: 'json' };
import type { SupportBundlePreview } from '../../shared/contract/troubleshoot.std';
import { toErrorShape } from '../../shared/errors.std';
import { redact } from '../../shared/redact.std';
import type { AppServices } from '../core/services.nodejs';

/**
 * The support bundle: one JSON document a merchant can send to support. What goes in is chosen
 * field by field (identifiers, versions, flags, codes, fingerprints shortened to 16 digits), and
 * the whole document then goes through the shared redaction once more, so a value that slipped
 * into a log message or an error detail is caught on the way out. Never a PAN, CVV, PIN,
 * password, bearer token or key material.
 */

/** What the bundle reads, named one by one (the support service hands them over). */
export type BundleSources = Pick<
  AppServices,
  'mode' | 'packaged' | 'settings' | 'tokens' | 'paths' | 'audit' | 'gateway' | 'diagnoses'
>;

export const BUNDLE_FORMAT = 'mkm-support-bundle';
const LOG_TAIL_BYTES = 512 * 1024;
const LOG_RECORDS = 50;
const AUDIT_ENTRIES = 50;

const short = (hex: string | null | undefined) => (hex ? `${hex.slice(0, 16)}…` : null);

/** A section that failed says why instead of sinking the bundle. */
async function section<T>(make: () => Promise<T> | T): Promise<T | { unavailable: string }> {
  try {
    return await make();
  } catch (error) {
    const shape = toErrorShape(error);
    return { unavailable: `${shape.code}: ${shape.message}` };
  }
}

/** The last records at warn or error level, parsed from the tail of the JSON Lines log. */
export function recentLogProblems(file: string, limit = LOG_RECORDS): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  const fd = openSync(file, 'r');
  let text: string;
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - LOG_TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    text = buf.toString('utf8');
    // The first line of a tail is usually cut in half.
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
  } finally {
    closeSync(fd);
  }
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record.level === 'error' || record.level === 'warn') out.push(record);
    } catch {
      out.push({ level: 'unparsed', chars: line.length });
    }
  }
  return out.slice(-limit);
}

async function tokensSection(services: BundleSources) {
  const slots = await services.tokens.slots();
  return Promise.all(
    slots.map(async (s) => ({
      slotId: s.slotId,
      description: s.description,
      manufacturer: s.manufacturer,
      removable: s.removable,
      session: s.session,
      token: s.token
        ? {
            label: s.token.label,
            manufacturer: s.token.manufacturer,
            model: s.token.model,
            serial: s.token.serial,
            firmware: s.token.firmware,
            hardware: s.token.hardware,
            flags: s.token.flags,
            minPinLen: s.token.minPinLen,
            maxPinLen: s.token.maxPinLen,
          }
        : null,
      capabilities: s.token
        ? await section(async () => {
            const c = await services.tokens.capabilities(s.slotId);
            return {
              cacheKey: c.cacheKey,
              probedAt: c.probedAt,
              bestOaepUnwrap: c.bestOaepUnwrap,
              capabilities: c.capabilities,
            };
          })
        : null,
    })),
  );
}

function gatewaySection(services: BundleSources) {
  return services.gateway.listProfiles().map((p) => {
    const state = (() => {
      try {
        return services.gateway.readState(p.id);
      } catch (error) {
        return { unavailable: toErrorShape(error).code };
      }
    })();
    const key = (
      r: { keyId: string | null; spkiSha256: string; padding: string; source: string; seenAt: string } | null,
    ) =>
      r
        ? {
            keyId: r.keyId,
            spkiSha256: short(r.spkiSha256),
            padding: r.padding,
            source: r.source,
            seenAt: r.seenAt,
          }
        : null;
    return {
      id: p.id,
      name: p.name,
      baseUrl: p.baseUrl,
      username: p.username,
      tlsPin: short(p.tlsPinSha256),
      cse: p.cse,
      keyRolling: p.keyRolling,
      ...('unavailable' in state
        ? { state: state.unavailable }
        : {
            gatewayKey: { pinned: key(state.gatewayKey.pinned), pending: key(state.gatewayKey.pending) },
            merchantKeys: state.merchantKeys.map((k) => ({
              keyId: k.keyId,
              label: k.label,
              spkiSha256: short(k.spkiSha256),
              wrapping: k.wrapping,
              status: k.status,
              registeredAt: k.registeredAt,
              retiredAt: k.retiredAt,
            })),
            keySet: state.keySet
              ? {
                  setId: state.keySet.setId,
                  wrappingKeyId: state.keySet.wrappingKeyId,
                  expiresAt: state.keySet.expiresAt,
                }
              : null,
            usedSets: state.usedSetIds.length,
          }),
    };
  });
}

async function auditSection(services: BundleSources) {
  const { entries, matched } = await services.audit.query({}, AUDIT_ENTRIES);
  return {
    matched,
    entries: entries.map((e) => ({
      seq: e.seq,
      time: e.time,
      action: e.action,
      result: e.result,
      ...(e.key
        ? {
            key: {
              id: e.key.id,
              ...(e.key.kcv ? { kcv: e.key.kcv } : {}),
              fingerprint: short(e.key.fingerprint),
            },
          }
        : {}),
      actor: { osUser: e.actor.osUser, token: e.actor.token },
      details: e.details ?? null,
    })),
  };
}

/** The bundle as an object, every section redacted. */
export async function collectBundle(services: BundleSources): Promise<Record<string, unknown>> {
  const bundle = {
    format: BUNDLE_FORMAT,
    version: 1,
    createdAt: new Date().toISOString(),
    notice:
      'Redacted diagnostics: no card number, CVV, PIN, password, bearer token or key material. Fingerprints are shortened to 16 hex digits.',
    app: {
      name: pkg.productName,
      version: pkg.version,
      mode: services.mode,
      packaged: services.packaged,
      runtime: { node: process.versions.node, platform: process.platform, arch: process.arch },
      settings: (() => {
        const s = services.settings();
        return {
          theme: s.theme,
          idleLogoutMinutes: s.idleLogoutMinutes,
          modulePath: services.tokens.chosenModulePath(),
          confirmDemoToken: s.confirmDemoToken,
        };
      })(),
    },
    module: await section(async () => {
      const m = await services.tokens.state();
      return { source: m.source, path: m.path, demo: m.demo, info: m.info, error: m.error };
    }),
    tokens: await section(() => tokensSection(services)),
    recentProblems: await section(() => recentLogProblems(services.paths.logFile)),
    audit: await section(() => auditSection(services)),
    gateway: await section(() => gatewaySection(services)),
    diagnoses: [...services.diagnoses],
  };
  return redact(bundle) as Record<string, unknown>;
}

export function renderBundle(bundle: Record<string, unknown>): SupportBundlePreview {
  const content = JSON.stringify(bundle, null, 2) + '\n';
  return {
    content,
    bytes: Buffer.byteLength(content),
    sha256: createHash('sha256').update(content).digest('hex'),
    sections: Object.keys(bundle),
  };
}
