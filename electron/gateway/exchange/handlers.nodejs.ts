import type { Contract } from '../../../shared/contract.std';
import type { Handlers } from '../../core/registry.nodejs';
import type { ExchangeService } from './exchange-service.nodejs';

/** The `exchange.*` channels over the app's one ExchangeService. */
export function exchangeHandlers(exchange: ExchangeService): Handlers<Contract>['exchange'] {
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
