import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.main';
import type { AppServices } from '../core/services.main';

/** The `troubleshoot.*` channels. */
export function troubleshootHandlers(_services: AppServices): Handlers<Contract>['troubleshoot'] {
  return {};
}
