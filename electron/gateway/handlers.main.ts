import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.main';
import type { GatewayService } from './gateway-service.main';

/**
 * The contract's gateway channels over GatewayService. Passwords never pass through here: a
 * session gets its password from the service's SecretProvider when it signs in.
 */
export function gatewayHandlers(gateway: GatewayService): Handlers<Contract>['gateway'] {
  return {
    addProfile: (req) => gateway.addProfile(req),
    listProfiles: () => gateway.listProfiles(),
    removeProfile: ({ profileId }) => gateway.removeProfile(profileId),
    status: ({ profileId }) => gateway.status(profileId),
    registerTransportKey: (req) => gateway.registerTransportKey(req),
    fetchKey: ({ profileId }) => gateway.fetchKey(profileId),
    importKeyPem: ({ profileId, pem }) => gateway.importKeyPem(profileId, pem),
    confirmKeyRotation: ({ profileId, fingerprint }) => gateway.confirmKeyRotation(profileId, fingerprint),
    ping: ({ profileId }) => gateway.ping(profileId),
    sync: ({ profileId }) => gateway.sync(profileId),
  };
}
