import { userInfo } from 'node:os';
import pkg from '../../package.json' with { type: 'json' };
import type { Contract } from '../../shared/contract.std';
import type { PciExport, PciReport } from '../../shared/contract/report.std';
import type { Handlers } from '../core/registry.nodejs';
import type { AppServices } from '../core/services.nodejs';
import { CURRENT_CUSTODIAN_TEXT } from './custodian-text.std';
import { CustodianStore } from './custodians.nodejs';
import { collectEvidence } from './evidence.nodejs';
import { installationId } from './installation.nodejs';
import { renderPciHtml } from './render-html.std';
import { buildPciReport, reportFileName } from './report.std';

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

export interface ReportOptions {
  /** Tests move time; the app uses the wall clock. */
  clock?: () => Date;
  /** No token can be logged in: do not ask the token host. */
  skipToken?: boolean | undefined;
}

/** The structured report for this installation, now. */
export async function pciReport(services: AppServices, options: ReportOptions = {}): Promise<PciReport> {
  const clock = options.clock ?? (() => new Date());
  const dir = services.paths.report;
  const evidence = await collectEvidence({
    now: clock,
    lifecycle: () => services.keyLifecycle(),
    usage: services.usage,
    tokens: options.skipToken ? null : services.tokens,
    audit: services.audit,
    gateway: services.gateway,
    custodians: new CustodianStore({ dir, osUser: osUser() }),
  });
  return buildPciReport(evidence, {
    generatedAt: clock().toISOString(),
    installation: {
      id: installationId(dir, clock),
      dataDir: services.paths.root,
      appVersion: pkg.version,
      mode: services.mode,
      osUser: osUser(),
    },
  });
}

export async function exportPciReport(report: PciReport, format: 'html' | 'pdf'): Promise<PciExport> {
  const fileName = reportFileName(report.generatedAt, format);
  if (format === 'html') {
    const content = renderPciHtml(report);
    return {
      format,
      fileName,
      mime: 'text/html',
      encoding: 'utf8',
      content,
      bytes: Buffer.byteLength(content),
      summary: report.summary,
    };
  }
  // pdf-lib is large; only a PDF export loads it.
  const { renderPciPdf } = await import('./render-pdf.nodejs');
  const bytes = await renderPciPdf(report);
  return {
    format,
    fileName,
    mime: 'application/pdf',
    encoding: 'base64',
    content: Buffer.from(bytes).toString('base64'),
    bytes: bytes.length,
    summary: report.summary,
  };
}

/** The `report.*` channels. Acknowledgements, revocations and exports are audited (AUDITED). */
export function reportHandlers(services: AppServices): Handlers<Contract>['report'] {
  const custodians = () => new CustodianStore({ dir: services.paths.report, osUser: osUser() });
  return {
    pci: ({ skipToken }) => pciReport(services, { skipToken }),
    exportPci: async ({ format, skipToken }) =>
      exportPciReport(await pciReport(services, { skipToken }), format),
    custodians: () => ({ text: CURRENT_CUSTODIAN_TEXT, custodians: custodians().list() }),
    acknowledge: ({ name, role, textVersion }) => custodians().acknowledge({ name, role, textVersion }),
    revokeCustodian: ({ id, reason }) => custodians().revoke(id, reason),
  };
}
