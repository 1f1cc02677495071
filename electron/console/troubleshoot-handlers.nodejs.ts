import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.nodejs';
import { diagnose } from './diagnose/diagnose.nodejs';
import type { DiagnoseDeps } from './diagnose/environment.nodejs';

/** The `troubleshoot.*` channels. */
export function troubleshootHandlers(services: DiagnoseDeps): Handlers<Contract>['troubleshoot'] {
  return {
    diagnose: (request) => diagnose(services, request),
    recent: () => [...services.diagnoses],
  };
}
