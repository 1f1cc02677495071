import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.main';
import type { AppServices } from '../core/services.main';

/** The `support.*` channels. */
export function supportHandlers(_services: AppServices): Handlers<Contract>['support'] {
  return {};
}
