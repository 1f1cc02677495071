import { randomBytes } from 'node:crypto';
import { dataPaths } from '../core/paths.nodejs';
import type { GatewayEmbeddedSandbox } from '../../shared/contract/gateway.std';
import { MkmError, toErrorShape } from '../../shared/errors.std';
import type { Logger } from '../core/logger.nodejs';
import type { SandboxHandle } from './sandbox/server.nodejs';
import type { GatewayService } from './gateway-service.nodejs';

/**
 * The local demo gateway of an unpackaged UI (browser mode, the Electron dev app): the project's
 * sandbox on 127.0.0.1, a free port, its data in `<dataDir>/sandbox`, and a "Local sandbox
 * (demo)" profile pinned to its TLS key. The demo user's password is made fresh at each start
 * and kept only as a session secret (the sandbox stores a scrypt hash of it). It stops when the
 * app closes. A packaged app never starts it: a real install must not talk to a fake gateway
 * without the admin adding one on purpose.
 */
export const EMBEDDED_PROFILE_ID = 'local-sandbox';
const EMBEDDED_USER = 'demo';

export interface EmbeddedSandboxOptions {
  dataDir: string;
  gateway: GatewayService;
  logger: Logger;
  /** False in a packaged app and the CLI. */
  available: boolean;
}

export class EmbeddedSandbox {
  private handle: SandboxHandle | null = null;
  private starting: Promise<SandboxHandle> | null = null;

  constructor(private readonly options: EmbeddedSandboxOptions) {}

  status(): GatewayEmbeddedSandbox {
    return {
      available: this.options.available,
      running: this.handle !== null,
      url: this.handle?.url ?? null,
      profileId: this.handle ? EMBEDDED_PROFILE_ID : null,
    };
  }

  /** Whether an earlier session made the demo profile (it is then started again at launch). */
  hasProfile(): boolean {
    try {
      return this.options.gateway.profiles.list().some((p) => p.id === EMBEDDED_PROFILE_ID && p.demo);
    } catch {
      return false;
    }
  }

  /** Starts it (once) and puts the demo profile in place; safe to call again. */
  async start(): Promise<GatewayEmbeddedSandbox> {
    if (!this.options.available) {
      throw new MkmError(
        'NOT_IMPLEMENTED',
        'The local demo sandbox is not offered in a packaged app or the CLI; add a gateway profile.',
      );
    }
    if (!this.handle) {
      this.starting ??= this.launch().finally(() => (this.starting = null));
      await this.starting;
    }
    return this.status();
  }

  private async launch(): Promise<SandboxHandle> {
    const password = randomBytes(18).toString('base64url');
    // Loaded on first start: the sandbox's web server and certificate code cost every CLI command
    // their start-up time otherwise, and only an unpackaged UI ever starts it.
    const { startSandbox } = await import('./sandbox/server.nodejs');
    const handle = await startSandbox({
      port: 0,
      dataDir: dataPaths(this.options.dataDir).sandbox,
      users: [{ name: EMBEDDED_USER, password }],
    });
    try {
      await this.options.gateway.putProfile({
        id: EMBEDDED_PROFILE_ID,
        name: 'Local sandbox (demo)',
        baseUrl: handle.url,
        username: EMBEDDED_USER,
        tlsPinSha256: handle.pin,
        cse: 'RSAES-OAEP-SHA256',
        keyRolling: true,
        demo: true,
      });
      await this.options.gateway.setPassword({ profileId: EMBEDDED_PROFILE_ID, password });
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    this.handle = handle;
    this.options.logger.info('local demo sandbox started', { url: handle.url, pin: handle.pin });
    return handle;
  }

  async close(): Promise<void> {
    const handle = this.handle ?? (await this.starting?.catch(() => null)) ?? null;
    this.handle = null;
    if (!handle) return;
    await handle.close().catch((error: unknown) =>
      this.options.logger.warn('the local demo sandbox did not stop cleanly', {
        error: toErrorShape(error),
      }),
    );
    this.options.logger.info('local demo sandbox stopped');
  }
}
