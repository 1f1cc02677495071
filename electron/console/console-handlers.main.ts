import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.main';
import type { AppServices } from '../core/services.main';

/** The `console.*` channels. */
export function consoleHandlers(_services: AppServices): Handlers<Contract>['console'] {
  return {};
}
