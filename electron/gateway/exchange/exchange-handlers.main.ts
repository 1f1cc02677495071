import type { Contract } from '../../../shared/contract.std';
import type { Handlers } from '../../core/registry.main';
import type { AppServices } from '../../core/services.main';

/** The `exchange.*` channels. */
export function exchangeHandlers(_services: AppServices): Handlers<Contract>['exchange'] {
  return {};
}
