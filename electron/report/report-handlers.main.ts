import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.main';
import type { AppServices } from '../core/services.main';

/** The `report.*` channels. */
export function reportHandlers(_services: AppServices): Handlers<Contract>['report'] {
  return {};
}
