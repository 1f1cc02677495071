import { MkmError } from '../../../shared/errors.std';
import type { HsmMethodName, HsmParams, HsmResult } from '../../hsm/host/protocol.std';

/** A typed call into the token host: `TokensService` in the app, a host engine in tests. */
export interface TokenCaller {
  call<K extends HsmMethodName>(method: K, params: HsmParams<K>): Promise<HsmResult<K>>;
}

interface Held {
  slotId: number;
  transportKeyId: string;
  spkiPem: string;
  spkiSha256: string;
  /** Component index (1-based) -> ciphertext to the transport key. Never a clear component. */
  components: Map<number, string>;
}

/**
 * What a ceremony holds between its steps, in main's memory only: the session transport key's
 * public half, and the components as ciphertexts to it. Never written anywhere: a component
 * typed at one step is used at a later one (form-key), and the journal never holds one, not even
 * encrypted. A token host restart destroys the transport key (a session object), so everything
 * held is dropped on `forgetAll` and the steps that need it answer CEREMONY_TRANSPORT_KEY_GONE
 * ("enter the components again"); a main restart loses it the same way.
 */
export class CeremonyComponentStore {
  private readonly held = new Map<string, Held>();

  constructor(private readonly tokens: TokenCaller) {}

  /**
   * The ceremony's transport key (made on the token at the first ask): its public key is what a
   * custodian's window or the CLI encrypts a component to.
   */
  async transportKey(ceremonyId: string, slotId: number): Promise<{ spkiPem: string; spkiSha256: string }> {
    let h = this.held.get(ceremonyId);
    if (!h || h.slotId !== slotId) {
      const made = await this.tokens.call('ceremonyTransportKey', { slotId });
      h = {
        slotId,
        transportKeyId: made.transportKeyId,
        spkiPem: made.spkiPem,
        spkiSha256: made.spkiSha256,
        components: new Map(),
      };
      this.held.set(ceremonyId, h);
    }
    return { spkiPem: h.spkiPem, spkiSha256: h.spkiSha256 };
  }

  /** What is held for a ceremony; CEREMONY_TRANSPORT_KEY_GONE when nothing is (any more). */
  current(ceremonyId: string, spkiSha256?: string): Readonly<Held> {
    const h = this.held.get(ceremonyId);
    if (!h || (spkiSha256 !== undefined && h.spkiSha256 !== spkiSha256)) {
      throw new MkmError('CEREMONY_TRANSPORT_KEY_GONE', undefined, { ceremonyId });
    }
    return h;
  }

  holdComponent(ceremonyId: string, index: number, ciphertext: string): void {
    this.current(ceremonyId).components.set(index, ciphertext);
  }

  /** The components held for a ceremony (their indices), under its current transport key. */
  heldIndices(ceremonyId: string): number[] {
    return [...(this.held.get(ceremonyId)?.components.keys() ?? [])];
  }

  /** Components 1..count in order; CEREMONY_TRANSPORT_KEY_GONE naming the missing ones. */
  components(ceremonyId: string, count: number): string[] {
    const h = this.current(ceremonyId);
    const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !h.components.has(i));
    if (missing.length > 0) {
      throw new MkmError(
        'CEREMONY_TRANSPORT_KEY_GONE',
        `Components ${missing.join(', ')} are no longer held (the app or the token host restarted since they were entered): enter the components again.`,
        { ceremonyId, missing: missing.map(String) },
      );
    }
    return Array.from({ length: count }, (_, i) => h.components.get(i + 1)!);
  }

  /** Forgets a ceremony's components and removes its transport key from the token. */
  async forget(ceremonyId: string): Promise<void> {
    const h = this.held.get(ceremonyId);
    this.held.delete(ceremonyId);
    if (h) {
      await this.tokens
        .call('ceremonyDropTransportKey', { slotId: h.slotId, transportKeyId: h.transportKeyId })
        .catch(() => undefined); // a session object: it goes with the session anyway
    }
  }

  /** The token host went away: every transport key went with it. */
  forgetAll(): void {
    this.held.clear();
  }
}
