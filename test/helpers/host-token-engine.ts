import { HSM_METHODS, parseHsmParams } from '../../electron/hsm/host/protocol.std';
import { TokenEngine } from '../../electron/hsm/pkcs11/token-engine.host';

/**
 * A TokenEngine whose public methods get their params parsed the way the host's dispatcher
 * parses every call (HSM_METHODS, parseHsmParams), so a test that calls the service directly sees
 * what main would: VALIDATION for bad params, lower-cased ids. The service itself trusts its
 * params; the dispatcher is the door.
 */
export function hostTokenService(options?: ConstructorParameters<typeof TokenEngine>[0]): TokenEngine {
  const service = new TokenEngine(options);
  return new Proxy(service, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof prop !== 'string' || !Object.hasOwn(HSM_METHODS, prop) || typeof value !== 'function') {
        return value;
      }
      const schema = HSM_METHODS[prop as keyof typeof HSM_METHODS];
      return async (params?: unknown) =>
        (value as (p: unknown) => unknown).call(target, parseHsmParams(schema, params));
    },
  });
}
