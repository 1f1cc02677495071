import pkg from '../../../package.json' with { type: 'json' };
import type { Contract } from '../../../shared/contract.std';
import type { Handlers } from '../../core/registry.nodejs';
import type { AppServices } from '../../core/services.nodejs';
import { ExchangeService } from './exchange-service.nodejs';

/** The `exchange.*` channels over one ExchangeService for the app's data folder. */
export function exchangeHandlers(services: AppServices): Handlers<Contract>['exchange'] {
  const exchange = new ExchangeService({
    dataDir: services.paths.root,
    tokens: services.tokens,
    gateway: services.gateway,
    record: (entry) => services.audit.record(entry),
    logger: services.logger.child({ domain: 'exchange' }),
    appVersion: pkg.version,
    usage: services.usage,
  });
  return {
    export: (req) => exchange.export(req),
    verify: (req) => exchange.verify(req),
    import: (req) => exchange.import(req),
    trustedSigners: () => exchange.trustedSigners(),
    trustSigner: ({ spkiSha256, name }) => exchange.trustSigner(spkiSha256, name),
    untrustSigner: ({ spkiSha256 }) => exchange.untrustSigner(spkiSha256),
    policy: () => exchange.policy(),
    setPolicy: ({ requirePss }) => exchange.setPolicy(requirePss),
  };
}
