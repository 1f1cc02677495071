import { toErrorShape } from '../../../shared/errors.std';
import type { CsePadding } from '../../crypto/cse.nodejs';
import { parseRsaPublicKey } from '../../crypto/pem.nodejs';
import { envSecretProvider, type SecretProvider } from '../../gateway/client/profiles.nodejs';
import type { KeySetRecord } from '../../gateway/client/state.nodejs';
import type { TokenCaller } from '../../gateway/client/token-envelope.nodejs';
import type { AppServices } from '../../core/services.nodejs';

/** What a diagnosis reads of the app: the token, the gateway profiles, the key inventory, the audit. */
export type DiagnoseDeps = Pick<
  AppServices,
  'audit' | 'clock' | 'diagnoses' | 'gateway' | 'keyLifecycle' | 'logger' | 'paths' | 'tokens'
>;
import { CseOracle } from './oracle.nodejs';

/**
 * What the troubleshooter knows when it starts: the gateway profiles with their pinned keys and
 * key sets (from the client state files: fingerprints and ids, never key material), the RSA
 * keys on the logged-in token that may decrypt, and the sandbox's verify endpoint as an oracle.
 * Everything that cannot be had is named in `skipped`, so the diagnosis says what it did not try.
 */

export interface KnownGatewayKey {
  keyId: string | null;
  spkiSha256: string;
  modulusBytes: number;
  padding: CsePadding;
  role: 'pinned' | 'pending';
}

export interface ProfileFacts {
  id: string;
  name: string;
  baseUrl: string;
  /** The sandbox listens on loopback only; only there is the verify oracle used. */
  sandbox: boolean;
  cse: CsePadding | null;
  keys: KnownGatewayKey[];
  keySet: KeySetRecord | null;
  usedSetIds: readonly string[];
}

export interface TokenRsaKey {
  id: string;
  label: string;
  bits: number;
  spkiSha256: string;
  /** The private half may decrypt (purpose "encryption"). */
  decrypts: boolean;
  /** "v2 of \"card test key\" (active)" when the lifecycle manages it. */
  version: string | null;
}

export interface TokenFacts {
  slotId: number;
  rsa: TokenRsaKey[];
  /** CKA_IDs of secret keys present, session objects included (a key set's keys). */
  secretIds: Set<string>;
}

export interface DiagnoseEnv {
  now: number;
  /** The profile the request targets (asked for, or the only one). */
  target: ProfileFacts | null;
  profiles: ProfileFacts[];
  token: TokenFacts | null;
  tokens: TokenCaller;
  /** The target's gateway (public key list; verify only when `oracleAllowed`). */
  gateway: CseOracle | null;
  /** The target is a sandbox on this machine: its verify endpoint may serve as an oracle. */
  oracleAllowed: boolean;
  skipped: string[];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function profileFacts(services: DiagnoseDeps, id: string, skipped: string[]): ProfileFacts | null {
  try {
    const profile = services.gateway.profiles.get(id);
    const state = services.gateway.readState(id);
    const keys: KnownGatewayKey[] = [];
    for (const [role, record] of [
      ['pinned', state.gatewayKey.pinned],
      ['pending', state.gatewayKey.pending],
    ] as const) {
      if (!record) continue;
      const parsed = parseRsaPublicKey(record.pem, { minBits: 0 });
      keys.push({
        keyId: record.keyId,
        spkiSha256: record.spkiSha256,
        modulusBytes: parsed.modulusBits / 8,
        padding: record.padding,
        role,
      });
    }
    return {
      id,
      name: profile.name,
      baseUrl: profile.baseUrl,
      sandbox:
        LOOPBACK.has(new URL(profile.baseUrl).hostname) || (profile as { demo?: boolean }).demo === true,
      cse: profile.scheme.cse?.padding ?? null,
      keys,
      keySet: state.keySet,
      usedSetIds: state.usedSetIds,
    };
  } catch (error) {
    skipped.push(`Gateway profile ${id}: ${toErrorShape(error).message}`);
    return null;
  }
}

/**
 * Token key id -> its managed version, for "which key (and which version) made it". The
 * inventory is one process's at a time: when another holds it, keys go unnamed.
 */
function managedVersions(services: DiagnoseDeps): Map<string, string> {
  const out = new Map<string, string>();
  try {
    const data = services.keyLifecycle().list();
    const names = new Map(data.logicalKeys.map((k) => [k.id, k.name]));
    for (const v of data.versions) {
      if (v.ckaId) out.set(v.ckaId, `v${v.version} of "${names.get(v.logicalKeyId) ?? '?'}" (${v.state})`);
    }
  } catch {
    /* key versions are context only */
  }
  return out;
}

async function tokenFacts(
  services: DiagnoseDeps,
  slotId: number | undefined,
  skipped: string[],
): Promise<TokenFacts | null> {
  let slot: number;
  try {
    const slots = await services.tokens.slots();
    const loggedIn = slots.filter((s) => s.token && s.session.loggedIn);
    const chosen = slotId !== undefined ? loggedIn.find((s) => s.slotId === slotId) : loggedIn[0];
    if (!chosen) {
      skipped.push(
        'No logged-in token: the token keys were not tried. Log in to let the troubleshooter decrypt with them.',
      );
      return null;
    }
    slot = chosen.slotId;
  } catch (error) {
    skipped.push(`Token: ${toErrorShape(error).message}`);
    return null;
  }
  const versions = managedVersions(services);
  try {
    const objects = await services.tokens.call('listObjects', { slotId: slot });
    const rsa = new Map<string, TokenRsaKey>();
    // Capped: a token with hundreds of RSA keys still answers in a few seconds.
    for (const o of objects
      .filter((x) => x.keyType === 'rsa' && (x.class === 'private' || x.class === 'public'))
      .slice(0, 64)) {
      const known = rsa.get(o.id);
      const decrypts = o.class === 'private' && o.usages.includes('decrypt');
      if (known) {
        known.decrypts ||= decrypts;
        continue;
      }
      try {
        const pub = await services.tokens.call('exportPublicKey', { slotId: slot, id: o.id, format: 'pem' });
        rsa.set(o.id, {
          id: o.id,
          label: o.label,
          bits: pub.bits,
          spkiSha256: pub.spkiSha256,
          decrypts,
          version: versions.get(o.id) ?? null,
        });
      } catch {
        // A private key whose public half the token cannot give is still a decrypt candidate.
        if (o.bits) {
          rsa.set(o.id, {
            id: o.id,
            label: o.label,
            bits: o.bits,
            spkiSha256: '',
            decrypts,
            version: versions.get(o.id) ?? null,
          });
        }
      }
    }
    const secretIds = new Set(objects.filter((o) => o.class === 'secret').map((o) => o.id));
    return { slotId: slot, rsa: [...rsa.values()], secretIds };
  } catch (error) {
    skipped.push(`Token keys: ${toErrorShape(error).message}`);
    return null;
  }
}

export async function buildEnvironment(
  services: DiagnoseDeps,
  request: { profileId?: string | undefined; slotId?: number | undefined },
): Promise<DiagnoseEnv> {
  const skipped: string[] = [];
  const profiles = services.gateway
    .listProfiles()
    .map((p) => profileFacts(services, p.id, skipped))
    .filter((p): p is ProfileFacts => p !== null);
  let target: ProfileFacts | null = null;
  if (request.profileId !== undefined) {
    target = profiles.find((p) => p.id === request.profileId) ?? null;
    if (!target) skipped.push(`No gateway profile "${request.profileId}".`);
  } else if (profiles.length === 1) {
    target = profiles[0]!;
  } else if (profiles.length > 1) {
    skipped.push('Several gateway profiles and none chosen: compared with all, the gateway was not asked.');
  }
  const token = await tokenFacts(services, request.slotId, skipped);
  // The passwords the gateway service knows (typed this session, kept, or MKM_GATEWAY_PASSWORD).
  const secrets = (services.gateway as { secrets?: SecretProvider }).secrets ?? envSecretProvider();
  if (target && !target.sandbox) {
    skipped.push(
      `The gateway's verify endpoint is a decryption oracle; it is used only against a sandbox on this machine, not ${target.baseUrl}.`,
    );
  }
  if (target?.cse && target.keys.length === 0) {
    skipped.push(
      `No gateway key is pinned for "${target.name}" yet (mkm gateway fetch-key): fields were not compared with it.`,
    );
  }
  const gateway = target
    ? new CseOracle(
        services.gateway.profiles.get(target.id),
        services.logger,
        secrets,
        services.gateway.httpOptions,
      )
    : null;
  return {
    // The app's clock: whether a key set ran out is judged on it, so a test moves it, not waits.
    now: (services.clock ?? Date.now)(),
    target,
    profiles,
    token,
    tokens: services.tokens,
    gateway,
    oracleAllowed: target?.sandbox ?? false,
    skipped,
  };
}
