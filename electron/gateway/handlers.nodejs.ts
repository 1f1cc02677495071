import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.nodejs';
import type { EmbeddedSandbox } from './embedded-sandbox.nodejs';
import type { GatewayService } from './gateway-service.nodejs';

/**
 * The contract's gateway channels over GatewayService. A password passes through here only
 * into the service's session secrets (setPassword); no channel ever returns one.
 */
export function gatewayHandlers(
  gateway: GatewayService,
  embedded?: EmbeddedSandbox,
): Handlers<Contract>['gateway'] {
  const noSandbox = { available: false, running: false, url: null, profileId: null };
  return {
    addProfile: (req) => gateway.addProfile(req),
    listProfiles: () => gateway.listProfiles(),
    setPassword: (req) => gateway.setPassword(req),
    removeProfile: ({ profileId }) => gateway.removeProfile(profileId),
    status: ({ profileId }) => gateway.status(profileId),
    registerTransportKey: (req) => gateway.registerTransportKey(req),
    fetchKey: ({ profileId }) => gateway.fetchKey(profileId),
    importKeyPem: ({ profileId, pem }) => gateway.importKeyPem(profileId, pem),
    confirmKeyRotation: ({ profileId, fingerprint }) => gateway.confirmKeyRotation(profileId, fingerprint),
    confirmPin: (req) => gateway.confirmPin(req),
    fetchSigningKey: ({ profileId }) => gateway.fetchSigningKey(profileId),
    importSigningKeyPem: ({ profileId, pem }) => gateway.importSigningKeyPem(profileId, pem),
    confirmSigningKeyRotation: ({ profileId, fingerprint }) =>
      gateway.confirmSigningKeyRotation(profileId, fingerprint),
    ping: ({ profileId }) => gateway.ping(profileId),
    sync: ({ profileId }) => gateway.sync(profileId),
    embeddedSandbox: () => embedded?.status() ?? noSandbox,
    startEmbeddedSandbox: async () => (embedded ? embedded.start() : noSandbox),
  };
}
