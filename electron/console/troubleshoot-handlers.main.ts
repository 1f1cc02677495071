import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.main';
import type { AppServices } from '../core/services.main';
import { diagnose } from './diagnose/diagnose.main';

/** The `troubleshoot.*` channels. */
export function troubleshootHandlers(services: AppServices): Handlers<Contract>['troubleshoot'] {
  return {
    diagnose: (request) => diagnose(services, request),
    recent: () => [...services.diagnoses],
  };
}
