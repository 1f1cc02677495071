import { userInfo } from 'node:os';
import pkg from '../../package.json' with { type: 'json' };
import type { AppStatus } from '../../shared/contract.std';
import type { CustodianView, PciExport, PciReport } from '../../shared/contract/report.std';
import type { AppAudit } from '../audit/app-audit.nodejs';
import type { DataPaths } from '../core/paths.nodejs';
import type { GatewayService } from '../gateway/gateway-service.nodejs';
import type { TokensService } from '../hsm/tokens.nodejs';
import type { KeyLifecycleService } from '../lifecycle/lifecycle.nodejs';
import { CURRENT_CUSTODIAN_TEXT } from './custodian-text.std';
import { CustodianStore } from './custodians.nodejs';
import { collectEvidence } from './evidence.nodejs';
import { installationId } from './installation.nodejs';
import { renderPciHtml } from './render-html.std';
import { buildPciReport, reportFileName } from './report.std';
import type { KeyUsageService } from '../lifecycle/usage.nodejs';

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

/** What the report reads: the services the composition root built, named one by one. */
export interface ReportDeps {
  mode: AppStatus['mode'];
  paths: Pick<DataPaths, 'root' | 'report' | 'ceremonies'>;
  /** Opens on first use (it holds a lock on its folder). */
  keyLifecycle: () => KeyLifecycleService;
  tokens: TokensService;
  audit: AppAudit;
  gateway: GatewayService;
  /** Real use counts: the crypto-period evidence (3.6.1, 3.7.4) comes from them. */
  usage: KeyUsageService;
}

/** The structured report for this installation, now. */
export async function pciReport(services: ReportDeps, options: ReportOptions = {}): Promise<PciReport> {
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
    ceremonyFolder: services.paths.ceremonies,
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

/**
 * The PCI report and its custodians, over the services the composition root built. Custodians are
 * read afresh on each call (another process may have acknowledged since).
 */
export class ReportService {
  constructor(private readonly deps: ReportDeps) {}

  pci(skipToken?: boolean): Promise<PciReport> {
    return pciReport(this.deps, { skipToken });
  }

  async exportPci(format: 'html' | 'pdf', skipToken?: boolean): Promise<PciExport> {
    return exportPciReport(await pciReport(this.deps, { skipToken }), format);
  }

  private custodianStore(): CustodianStore {
    return new CustodianStore({ dir: this.deps.paths.report, osUser: osUser() });
  }

  custodians() {
    return { text: CURRENT_CUSTODIAN_TEXT, custodians: this.custodianStore().list() };
  }

  acknowledge(request: { name: string; role: string; textVersion: string }): CustodianView {
    return this.custodianStore().acknowledge(request);
  }

  revokeCustodian(id: string, reason?: string): CustodianView {
    return this.custodianStore().revoke(id, reason);
  }
}
