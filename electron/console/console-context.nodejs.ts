import { join } from 'node:path';
import type { ComposeFieldName, ComposeFields } from '../../shared/console/compose.std';
import type {
  ConsoleCiphertextInfo,
  ConsoleKeyInfo,
  ConsoleProfileState,
  ConsoleScheme,
} from '../../shared/contract/console.std';
import { MkmError } from '../../shared/errors.std';
import type { CsePadding } from '../crypto/cse.nodejs';
import type { Logger } from '../core/logger.nodejs';
import type { EventBus } from '../core/registry.nodejs';
import type { GatewayService } from '../gateway/gateway-service.nodejs';
import type { TokensService } from '../hsm/tokens.nodejs';
import { ConsoleHistory } from './history.nodejs';
import type { KeyUseCounter } from '../lifecycle/usage.nodejs';

/**
 * What every console operation shares: the profile and the key it encrypts to, the logged-in
 * slot, the history, and the non-secret facts it keeps about what it made (for the
 * troubleshooter). Clear values never pass through here.
 */

export const SCHEME_PADDING: Record<ConsoleScheme, CsePadding> = {
  paytrace: 'RSAES-PKCS1-V1_5',
  oaep: 'RSAES-OAEP-SHA256',
};
export const PADDING_SCHEME: Record<CsePadding, ConsoleScheme> = {
  'RSAES-PKCS1-V1_5': 'paytrace',
  'RSAES-OAEP-SHA256': 'oaep',
};

/**
 * A body the gateway cannot decrypt is made only on an explicit override (the admin testing a
 * misconfigured integration); otherwise SCHEME_MISMATCH, before anything is encrypted.
 */
export function refuseSchemeMismatch(
  padding: CsePadding,
  gatewayPadding: CsePadding,
  override?: boolean,
): void {
  if (padding === gatewayPadding || override === true) return;
  throw new MkmError(
    'SCHEME_MISMATCH',
    `The gateway advertises ${gatewayPadding} for this key and cannot decrypt ${padding}: choose its scheme, or confirm the override.`,
    { scheme: PADDING_SCHEME[padding], padding, gatewayPadding },
  );
}

const LAST_KEPT = 20;

export interface ConsoleServiceDeps {
  gateway: GatewayService;
  tokens: TokensService;
  logger: Logger;
  events: EventBus;
  /** The console's folder (DataPaths.console): its history file, only when asked to keep one. */
  consoleDir: string;
  /** Where the console's key uses are counted (the app's usage service). */
  usage?: KeyUseCounter | null;
}

export function given(fields: ComposeFields): [ComposeFieldName, string][] {
  return (Object.entries(fields) as [ComposeFieldName, string | undefined][]).filter(
    (e): e is [ComposeFieldName, string] => typeof e[1] === 'string' && e[1] !== '',
  );
}

export function onlyGiven(fields: ComposeFields): ComposeFields {
  return Object.fromEntries(given(fields)) as ComposeFields;
}

export const b64len = (text: string) => Buffer.from(text, 'base64').length;

export class ConsoleContext {
  readonly history: ConsoleHistory;
  private readonly last: ConsoleCiphertextInfo[] = [];
  /** Sets whose own IV sealed a console message that was never sent: not to be used again. */
  readonly spentSets = new Set<string>();

  constructor(readonly deps: ConsoleServiceDeps) {
    this.history = new ConsoleHistory(join(deps.consoleDir, 'history.json'), deps.logger);
  }

  profile(profileId: string) {
    const found = this.deps.gateway.listProfiles().find((p) => p.id === profileId);
    if (!found) throw new MkmError('NOT_FOUND', `No gateway profile "${profileId}".`, { profileId });
    return found;
  }

  /** `forUse`: card data is about to be encrypted to it (a view of the profile only shows it). */
  async pinnedKey(profileId: string, forUse = true) {
    const client = await this.deps.gateway.consoleClient(profileId, { needsLogin: false });
    // Card data is encrypted to this key: only as pinned while the token's seal vouches for it.
    if (forUse) await this.deps.gateway.checkPinnedKey(profileId);
    const key = client.pinnedGatewayKey();
    if (!key) {
      throw new MkmError(
        'NOT_FOUND',
        'No gateway public key is pinned for this profile yet: fetch it (Gateway, or mkm gateway fetch-key) or import its PEM.',
        { profileId, reason: 'no-pinned-key' },
      );
    }
    const info: ConsoleKeyInfo = {
      profileId,
      keyId: key.keyId,
      spkiSha256: key.spkiSha256,
      modulusBits: key.modulusBits,
      padding: key.padding,
    };
    return { key, info, client };
  }

  async profileState(profileId: string): Promise<ConsoleProfileState> {
    const profile = this.profile(profileId);
    let key: ConsoleKeyInfo | null = null;
    let currentSet: ConsoleProfileState['currentSet'] = null;
    try {
      key = (await this.pinnedKey(profileId, false)).info;
    } catch (error) {
      if (!(error instanceof MkmError && error.code === 'NOT_FOUND')) throw error;
    }
    const state = this.deps.gateway.readState(profileId);
    if (state.keySet) currentSet = { setId: state.keySet.setId, expiresAt: state.keySet.expiresAt };
    const scheme = profile.cse ? PADDING_SCHEME[profile.cse] : key ? PADDING_SCHEME[key.padding] : null;
    return { profileId, scheme, key, keyRolling: profile.keyRolling, currentSet };
  }

  remember(info: Omit<ConsoleCiphertextInfo, 'at'>): void {
    this.last.unshift({ at: new Date().toISOString(), ...info });
    if (this.last.length > LAST_KEPT) this.last.length = LAST_KEPT;
  }

  /** Non-secret facts about the last ciphertexts made here, newest first (for the troubleshooter). */
  lastCiphertexts(): ConsoleCiphertextInfo[] {
    return this.last.map((i) => ({ ...i, lengths: { ...i.lengths } }));
  }

  async loggedInSlot(): Promise<number> {
    const slot = (await this.deps.tokens.slots()).find((s) => s.token && s.session.loggedIn);
    if (!slot) throw new MkmError('NOT_LOGGED_IN', 'Log in to the token that holds the key set.');
    return slot.slotId;
  }
}
