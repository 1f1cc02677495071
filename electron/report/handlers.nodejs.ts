import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.nodejs';
import type { ReportService } from './report-service.nodejs';

/** The `report.*` channels. Acknowledgements, revocations and exports are audited (AUDITED). */
export function reportHandlers(report: ReportService): Handlers<Contract>['report'] {
  return {
    pci: ({ skipToken }) => report.pci(skipToken),
    exportPci: ({ format, skipToken }) => report.exportPci(format, skipToken),
    custodians: () => report.custodians(),
    acknowledge: ({ name, role, textVersion }) => report.acknowledge({ name, role, textVersion }),
    revokeCustodian: ({ id, reason }) => report.revokeCustodian(id, reason),
  };
}
