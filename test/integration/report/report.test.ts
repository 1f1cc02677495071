import { StateSeals } from '../../../electron/audit/state-seal.nodejs';
import { GatewayStates } from '../../../electron/gateway/client/state.nodejs';
import { dataPaths } from '../../../electron/core/paths.nodejs';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PciReport } from '../../../shared/contract/report.std';
import { AppAudit } from '../../../electron/audit/app-audit.nodejs';
import { silentLogger } from '../../../electron/core/logger.nodejs';
import { EventBus } from '../../../electron/core/registry.nodejs';
import { GatewayService } from '../../../electron/gateway/gateway-service.nodejs';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import type { TokensService } from '../../../electron/hsm/tokens.nodejs';
import { KeyLifecycleService } from '../../../electron/lifecycle/lifecycle.nodejs';
import { CURRENT_CUSTODIAN_TEXT } from '../../../electron/report/custodian-text.std';
import { CustodianStore } from '../../../electron/report/custodians.nodejs';
import { collectEvidence } from '../../../electron/report/evidence.nodejs';
import { renderPciHtml } from '../../../electron/report/render-html.std';
import { renderPciPdf } from '../../../electron/report/render-pdf.nodejs';
import { buildPciReport } from '../../../electron/report/report.std';
import { PCI_REQUIREMENT_IDS } from '../../../electron/report/pci-requirements.std';
import { gatewayAddArgs, mkmOn } from '../../helpers/mkm-cli';
import { findSecrets } from '../../helpers/scan';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { pdfPagesText } from '../../unit/report/pdf-text';
import { openTokens, testClock } from '../lifecycle/setup';

/**
 * The compliance report from a real installation: a SoftHSM2 token, keys made and rotated by
 * the key lifecycle with an injected clock, the audit log sealed on the token, custodians in the
 * data folder. Then the same through `mkm report ...`, each command its own process.
 */
const USER_PIN = 'rpt-user-PIN-4821';
const SO_PIN = 'rpt-so-PIN-7730';
let hsm: SoftHsmToken;
let root: string;
let tokens: TokensService;
let audit: AppAudit;
let gateway: GatewayService;
let lifecycle: KeyLifecycleService;
const clock = testClock('2026-01-01T00:00:00.000Z');
/** Each CLI test runs several mkm processes; the machine may be shared and slow. */
const CLI_TIMEOUT = 240_000;

beforeAll(async () => {
  hsm = createSoftHsmToken({ label: 'report', userPin: USER_PIN, soPin: SO_PIN });
  root = mkdtempSync(join(tmpdir(), 'mkm-report-'));
  tokens = await openTokens({ dataDir: root, modulePath: hsm.modulePath, slotId: hsm.slotId, pin: USER_PIN });
  const events = new EventBus(silentLogger);
  const seals = new StateSeals();
  audit = new AppAudit({ dir: join(root, 'audit'), seals, logger: silentLogger, events, clock: clock.now });
  await audit.attachToken(tokens, hsm.slotId);
  gateway = new GatewayService({
    dataDir: root,
    states: new GatewayStates(dataPaths(root).gateway, seals),
    tokens,
    record: (e) => audit.record(e),
    logger: silentLogger,
    events,
  });
  lifecycle = KeyLifecycleService.open({
    dir: join(root, 'keys'),
    tokens,
    clock: clock.now,
    audit: (e) => audit.record(e),
    usageFlushMs: 0,
  });
});

afterAll(async () => {
  await lifecycle?.close();
  await gateway?.close();
  await audit?.close();
  await tokens?.close();
  hsm?.cleanup();
  if (root) rmSync(root, { recursive: true, force: true });
});

const custodians = () =>
  new CustodianStore({ dir: join(root, 'report'), osUser: 'tester', clock: clock.now });

async function report(): Promise<PciReport> {
  const evidence = await collectEvidence({
    now: clock.now,
    lifecycle: () => lifecycle,
    tokens,
    audit,
    gateway,
    custodians: custodians(),
    ceremonyFolder: join(root, 'ceremonies'),
  });
  return buildPciReport(evidence, {
    generatedAt: clock.now().toISOString(),
    installation: {
      id: 'test-installation',
      dataDir: root,
      appVersion: '0.1.0',
      mode: 'cli',
      osUser: 'tester',
    },
  });
}

const req = (r: PciReport, id: string) => r.requirements.find((q) => q.id === id)!;

describe('the PCI report from a real installation (lifecycle, token, audit, custodians)', () => {
  let first: PciReport;

  it('keys made and rotated on the token show as evidence: states, last rotation, token attributes', async () => {
    const serial = hsm.serial;
    const data = await lifecycle.createKey({ name: 'card-data', purpose: 'data', tokenSerial: serial });
    await lifecycle.createKey({ name: 'message-mac', purpose: 'hmac', tokenSerial: serial });
    clock.advanceDays(10);
    const rotatedAt = clock.now().toISOString();
    await lifecycle.rotateNow(data.logicalKey.id, 'manual');
    clock.advanceDays(5);

    first = await report();
    const inv = first.evidence.inventory;
    if (!inv.ok) throw new Error(inv.reason);
    expect(inv).toMatchObject({ logicalKeys: 2, versions: 3, pastCryptoPeriod: 0, tombstones: 0 });
    expect(inv.byState.active).toBe(3);
    expect(inv.byOrigin).toEqual({ generated: 3, adopted: 0, imported: 0 });
    expect(inv.tokens).toEqual([serial]);
    const cardData = inv.keys.find((k) => k.name === 'card-data')!;
    expect(cardData).toMatchObject({ versions: 2, primaryVersion: 2, cryptoPeriodDays: 365 });
    expect(Date.parse(cardData.lastRotation!)).toBe(Date.parse(rotatedAt));
    expect(inv.keys.find((k) => k.name === 'message-mac')).toMatchObject({
      lastRotation: null,
      cryptoPeriodDays: 730,
    });

    const token = first.evidence.token;
    if (!token.checked) throw new Error(token.reason);
    // Three managed versions and the audit sealing key, all inside the token.
    expect(token.keys).toBe(4);
    expect(token).toMatchObject({ sensitive: 4, nonExtractable: 4, generatedOnToken: 4, exposed: [] });
    expect(token).toMatchObject({ managedFound: 3, managedMissing: 0 });
    expect(token.tokens[0]).toMatchObject({ serial, software: true });

    expect(req(first, '3.6.1').status).toBe('met');
    expect(req(first, '3.7.4').status).toBe('met');
    expect(req(first, '3.7.1').status).toBe('met');
    // SoftHSM2 is a software token: the report does not pretend it is an HSM.
    expect(req(first, '3.6.1.2').status).toBe('attention');
    expect(req(first, '3.7.8').status).toBe('attention');
  });

  it('the audit log is verified with its seals on the token', async () => {
    const a = first.evidence.audit;
    expect(a).toMatchObject({ ok: true, sealsVerified: true, firstBad: null, error: null });
    expect(a.entries).toBeGreaterThan(5);
  });

  it('once the crypto-period of the rotated key ends, 3.6.1 and 3.7.4 need attention and name it', async () => {
    clock.advanceDays(365);
    const r = await report();
    const inv = r.evidence.inventory;
    expect(inv).toMatchObject({ ok: true, pastCryptoPeriod: 1 });
    expect(req(r, '3.7.4').status).toBe('attention');
    expect(req(r, '3.7.4').why[0]).toMatch(/1 key is past its crypto-period \(card-data\)/);
    expect(req(r, '3.6.1').status).toBe('attention');
    // v1's grace period ended long ago and nothing swept it: 3.7.5 says so.
    expect(req(r, '3.7.5').why.join(' ')).toMatch(/1 replaced version is still active/);
  });

  it('a compromised and destroyed version stays as a tombstone; rotating clears the crypto-period finding', async () => {
    const key = lifecycle.list().logicalKeys.find((k) => k.name === 'card-data')!;
    const v1 = lifecycle.versions(key.id).find((v) => v.version === 1)!;
    await lifecycle.markCompromised(v1.id, { note: 'report test' });
    await lifecycle.destroy(v1.id, { confirm: true, confirmLabel: v1.label });
    await lifecycle.rotateNow(key.id, 'scheduled');
    const r = await report();
    const inv = r.evidence.inventory;
    if (!inv.ok) throw new Error(inv.reason);
    expect(inv).toMatchObject({ pastCryptoPeriod: 0, tombstones: 1, compromisedUnreplaced: 0, versions: 4 });
    expect(inv.compromised).toEqual([
      expect.objectContaining({ name: 'card-data', version: 1, destroyed: true }),
    ]);
    expect(req(r, '3.7.4').status).toBe('met');
    expect(req(r, '3.7.5').facts).toContainEqual({
      label: 'Destroyed versions kept as tombstones',
      value: '1',
    });
  });

  it('a custodian who acknowledges the current text makes 3.7.8 met; the report lists them', async () => {
    custodians().acknowledge({
      name: 'Ann Lee',
      role: 'Key custodian',
      textVersion: CURRENT_CUSTODIAN_TEXT.version,
    });
    const r = await report();
    expect(req(r, '3.7.8').status).toBe('met');
    expect(r.evidence.custodians).toMatchObject({ current: 1, stale: 0 });
  });

  it('HTML and PDF carry every requirement and the figures, and no PIN reaches any written file', async () => {
    const r = await report();
    const out = join(root, 'exports');
    mkdirSync(out);
    const html = renderPciHtml(r);
    const pdf = await renderPciPdf(r);
    writeFileSync(join(out, 'r.html'), html);
    writeFileSync(join(out, 'r.pdf'), pdf);
    for (const id of PCI_REQUIREMENT_IDS) expect(html).toContain(`id="req-${id}"`);
    expect(html).toContain('Ann Lee');
    expect(html).toMatch(/Destroyed versions kept as tombstones<\/td><td>1</);
    const { doc, pages } = await pdfPagesText(pdf);
    expect(doc.getTitle()).toBe(r.title);
    expect(pages.join('\n')).toContain('card-data');
    await audit.close().catch(() => {});
    expect(findSecrets([root], [USER_PIN, SO_PIN])).toEqual([]);
  });
});

describe('mkm report on a real token', () => {
  let dataDir: string;
  /** Reports go outside the data folder: the CLI refuses to write inside it. */
  let outDir: string;
  const cli = mkmOn(() => ({ dataDir, token: hsm }));

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mkm-report-cli-'));
    outDir = mkdtempSync(join(tmpdir(), 'mkm-report-out-'));
  });
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });

  it(
    'writes the PDF and the HTML report after a key is made and a custodian acknowledged',
    async () => {
      const made = await cli(['keys', 'create', '--name', 'cli-data', '--purpose', 'data'], USER_PIN);
      expect(made.code, made.stderr).toBe(0);
      const refused = await cli(['report', 'acknowledge', '--name', 'Bo Chen', '--role', 'Backup custodian']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/--yes.*\[CONFIRMATION_REQUIRED\]/);
      const ack = await cli([
        'report',
        'acknowledge',
        '--name',
        'Bo Chen',
        '--role',
        'Backup custodian',
        '--yes',
      ]);
      expect(ack.code, ack.stderr).toBe(0);
      expect(ack.stdout).toMatch(/^recorded: [0-9a-f-]{36}\s+Bo Chen \(Backup custodian\)/);

      const pdfPath = join(outDir, 'x.pdf');
      const pdf = await cli(['--json', 'report', 'pci', '--out', pdfPath], USER_PIN);
      expect(pdf.code, pdf.stderr).toBe(0);
      expect(JSON.parse(pdf.stdout)).toMatchObject({ out: pdfPath, format: 'pdf' });
      const { doc, pages } = await pdfPagesText(readFileSync(pdfPath));
      expect(doc.getPageCount()).toBeGreaterThan(0);
      expect(doc.getTitle()).toMatch(/PCI DSS v4\.0/);
      const text = pages.join('\n');
      for (const id of PCI_REQUIREMENT_IDS) expect(text).toContain(id);
      expect(text).toContain('Bo Chen');

      const htmlPath = join(outDir, 'x.html');
      const html = await cli(['report', 'pci', '--out', htmlPath], USER_PIN);
      expect(html.code, html.stderr).toBe(0);
      expect(html.stdout).toMatch(
        /^wrote .*x\.html \(html, \d+ bytes\): met \d+, attention \d+, manual \d+, n\/a 3/,
      );
      const page = readFileSync(htmlPath, 'utf8');
      for (const id of PCI_REQUIREMENT_IDS) expect(page).toContain(`id="req-${id}"`);
      expect(page).toContain('cli-data');
      // Logged in through MKM_PIN: the token's attributes were checked.
      // (The token also holds the keys of the tests above: every one of them is counted.)
      expect(page).toMatch(/Sensitive \(CKA_SENSITIVE\)<\/td><td>(\d+) of \1</);
      expect(page).toMatch(/Managed versions found \/ missing on the token<\/td><td>1 \/ 0</);
      expect(page).toContain('SoftHSM');

      const report = JSON.parse((await cli(['--json', 'report', 'pci'], USER_PIN)).stdout) as PciReport;
      expect(report.requirements.find((r) => r.id === '3.7.8')!.status).toBe('met');
      expect(report.evidence.audit).toMatchObject({ ok: true, sealsVerified: true });
    },
    CLI_TIMEOUT,
  );

  it(
    'without a PIN the report says the token was not checked',
    async () => {
      const r = await cli(['--json', 'report', 'pci']);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as PciReport;
      expect(report.evidence.token).toEqual({ checked: false, reason: 'token not logged in' });
      expect(report.requirements.find((q) => q.id === '3.6.1.2')!.status).toBe('manual');
    },
    CLI_TIMEOUT,
  );

  it(
    'refuses to overwrite without --force, and to guess a format',
    async () => {
      const pdfPath = join(outDir, 'x.pdf');
      const before = readFileSync(pdfPath);
      const again = await cli(['report', 'pci', '--out', pdfPath]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/already exists; add --force .*\[CONFLICT\]/);
      expect(readFileSync(pdfPath).equals(before)).toBe(true);
      const forced = await cli(['report', 'pci', '--out', pdfPath, '--force']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(readFileSync(pdfPath).equals(before)).toBe(false);

      const bad = await cli(['report', 'pci', '--out', join(outDir, 'x.txt')]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/\.html or \.pdf.*\[USAGE\]/);
      const explicit = await cli(['report', 'pci', '--out', join(outDir, 'report.bin'), '--format', 'html']);
      expect(explicit.code, explicit.stderr).toBe(0);
      expect(readFileSync(join(outDir, 'report.bin'), 'utf8')).toMatch(/^<!doctype html>/);
      expect(existsSync(join(outDir, 'x.txt'))).toBe(false);
    },
    CLI_TIMEOUT,
  );

  it(
    'lists and revokes custodians; the acknowledgement and the export are in the audit log',
    async () => {
      const list = JSON.parse((await cli(['--json', 'report', 'custodians'])).stdout) as {
        custodians: { id: string; name: string }[];
      };
      const bo = list.custodians.find((c) => c.name === 'Bo Chen')!;
      const revoked = await cli(['report', 'revoke', bo.id, '--reason', 'moved to another team', '--yes']);
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(revoked.stdout).toMatch(/revoked: .*Bo Chen.*revoked/);
      const text = await cli(['report', 'custodians', '--text']);
      expect(text.stdout).toContain(CURRENT_CUSTODIAN_TEXT.paragraphs[1]!);

      const exported = await cli(['audit', 'export', '--format', 'json']);
      const actions = (
        JSON.parse(exported.stdout) as { action: string; details?: Record<string, unknown> }[]
      ).map((e) => e.action);
      expect(actions).toEqual(
        expect.arrayContaining([
          'report.custodian.acknowledge',
          'report.pci.export',
          'report.custodian.revoke',
        ]),
      );
      expect(findSecrets([dataDir], [USER_PIN, SO_PIN])).toEqual([]);
    },
    CLI_TIMEOUT,
  );
});

describe('gateway key-exchange evidence against the sandbox gateway', () => {
  const GW_USER = 'merchant-report';
  const GW_PASSWORD = 'report gw pass 3317-q';
  let dataDir: string;
  let sandboxDir: string;
  let sandbox: SandboxHandle;
  const cli = mkmOn(() => ({ dataDir, token: hsm }), { MKM_GATEWAY_PASSWORD: GW_PASSWORD });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mkm-report-gw-'));
    sandboxDir = mkdtempSync(join(tmpdir(), 'mkm-report-sandbox-'));
    sandbox = await startSandbox({
      port: 0,
      dataDir: sandboxDir,
      users: [{ name: GW_USER, password: GW_PASSWORD }],
    });
  });
  afterAll(async () => {
    await sandbox?.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(sandboxDir, { recursive: true, force: true });
  }, CLI_TIMEOUT);

  it(
    'shows the pinned gateway key fingerprint and the registered transport key; 3.7.2 is met only once the first pin is confirmed',
    async () => {
      const add = await cli(
        gatewayAddArgs({ name: 'Sandbox', url: sandbox.url, user: GW_USER, pin: sandbox.pin }),
        USER_PIN,
      );
      expect(add.code, add.stderr).toBe(0);
      const fetched = await cli(['--json', 'gateway', 'fetch-key'], USER_PIN);
      expect(fetched.code, fetched.stderr).toBe(0);
      const pinned = (JSON.parse(fetched.stdout) as { pinned: { spkiSha256: string } }).pinned.spkiSha256;
      const key = await cli(
        [
          'keys',
          'generate',
          '--type',
          'rsa-2048',
          '--label',
          'report-transport',
          '--purpose',
          'gateway-transport',
        ],
        USER_PIN,
      );
      expect(key.code, key.stderr).toBe(0);
      const registered = await cli(['gateway', 'register', 'report-transport'], USER_PIN);
      expect(registered.code, registered.stderr).toBe(0);

      const r = await cli(['--json', 'report', 'pci'], USER_PIN);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as PciReport;
      expect(report.evidence.gateway).toMatchObject({
        error: null,
        profiles: [
          {
            id: 'sandbox',
            name: 'Sandbox',
            pinnedFingerprint: pinned,
            keyStatus: 'pinned',
            merchantKeysActive: 1,
          },
        ],
      });
      // Pinned on first sight, nobody compared it with the gateway's yet: not met, and why.
      const unconfirmed = req(report, '3.7.2');
      expect(unconfirmed.status).toBe('attention');
      expect(unconfirmed.why.join(' ')).toMatch(/encryption key is pinned but unconfirmed/);
      expect(unconfirmed.why.join(' ')).toContain('mkm gateway confirm-pin sandbox');
      // Registering pinned the key-set signing key too (contract 1.1): both wait for a person.
      expect(report.evidence.gateway.profiles[0]!.pins).toEqual([
        { key: 'encryption', fingerprint: pinned, confirmed: null },
        { key: 'signing', fingerprint: sandbox.fingerprints().signing, confirmed: null },
      ]);
      const status = await cli(['gateway', 'status'], USER_PIN);
      expect(status.stdout).toMatch(/UNCONFIRMED: compare [0-9a-f]{4} [0-9a-f]{4} /);

      // A fingerprint that is not the pinned one confirms nothing.
      const readOut = sandbox.fingerprints().encryption;
      const other = `${readOut.slice(0, 60)}${readOut.endsWith('0000') ? '1111' : '0000'}`;
      const wrong = await cli(
        ['gateway', 'confirm-pin', '--fingerprint', other, '--by', 'A. Admin'],
        USER_PIN,
      );
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/\[PIN_FINGERPRINT_MISMATCH\]\n$/);
      const still = JSON.parse((await cli(['--json', 'report', 'pci'], USER_PIN)).stdout) as PciReport;
      expect(req(still, '3.7.2').status).toBe('attention');

      // The one the gateway's operator reads out, typed in groups as read, by a named person.
      const grouped = (readOut.match(/.{4}/g) ?? []).join(' ');
      const confirmed = await cli(
        [
          'gateway',
          'confirm-pin',
          'sandbox',
          '--fingerprint',
          grouped,
          '--by',
          'A. Admin',
          '--role',
          'key custodian',
        ],
        USER_PIN,
      );
      expect(confirmed.code, confirmed.stderr).toBe(0);
      expect(confirmed.stdout).toMatch(/fingerprint confirmed by A\. Admin \(key custodian\)/);
      const halfway = JSON.parse((await cli(['--json', 'report', 'pci'], USER_PIN)).stdout) as PciReport;
      expect(req(halfway, '3.7.2').status).toBe('attention');
      expect(req(halfway, '3.7.2').why.join(' ')).toMatch(/key-set signing key is pinned but unconfirmed/);
      const signing = await cli(
        [
          'gateway',
          'confirm-pin',
          '--key',
          'signing',
          '--fingerprint',
          `sha256:${sandbox.fingerprints().signing}`,
          '--by',
          'B. Custodian',
        ],
        USER_PIN,
      );
      expect(signing.code, signing.stderr).toBe(0);

      const after = JSON.parse((await cli(['--json', 'report', 'pci'], USER_PIN)).stdout) as PciReport;
      const q = req(after, '3.7.2');
      expect(q.status).toBe('met');
      expect(q.facts.find((f) => f.label === 'Gateway “Sandbox”')?.value).toContain(
        `pinned SHA-256 ${pinned}`,
      );
      expect(q.facts.find((f) => f.label === 'Gateway “Sandbox” encryption key')?.value).toMatch(
        /confirmed by A\. Admin \(key custodian\)/,
      );
      // Audited with who confirmed it; the refused attempt too.
      const audit = await cli(['--json', 'audit', 'export', '--format', 'json'], USER_PIN);
      const entries = (
        JSON.parse(audit.stdout) as { action: string; result: string; details?: Record<string, unknown> }[]
      ).filter((e) => e.action === 'gateway.gateway-key.pin-confirmed');
      expect(entries.map((e) => [e.result, e.details?.confirmedBy])).toEqual([
        ['PIN_FINGERPRINT_MISMATCH', 'A. Admin'],
        ['ok', 'A. Admin'],
      ]);
      expect(findSecrets([dataDir], [USER_PIN, GW_PASSWORD])).toEqual([]);
    },
    CLI_TIMEOUT,
  );
});
