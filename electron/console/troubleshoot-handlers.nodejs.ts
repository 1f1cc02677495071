import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.nodejs';
import type { AppServices } from '../core/services.nodejs';
import { diagnose } from './diagnose/diagnose.nodejs';

/** The `troubleshoot.*` channels. */
export function troubleshootHandlers(services: AppServices): Handlers<Contract>['troubleshoot'] {
  return {
    diagnose: (request) => diagnose(services, request),
    recent: () => [...services.diagnoses],
  };
}
