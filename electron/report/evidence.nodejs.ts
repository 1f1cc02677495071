import type {
  CustodianView,
  PciAuditEvidence,
  PciCustodianEvidence,
  PciEvidence,
  PciGatewayEvidence,
  PciInventoryEvidence,
  PciTokenEvidence,
} from '../../shared/contract/report.std';
import type { GatewayStatus, GatewayProfileView } from '../../shared/contract.std';
import { toErrorShape } from '../../shared/errors.std';
import type { ObjectInfo, SlotSummary } from '../../shared/tokens.std';
import type { VerifyReport } from '../audit/audit-log.nodejs';
import type { HsmMethodName, HsmParams, HsmResult } from '../hsm/host/protocol.std';
import type { KeyLifecycleService } from '../lifecycle/lifecycle.nodejs';
import type { KeyUsageService } from '../lifecycle/usage.nodejs';
import type { AuditFilter } from '../audit/query.nodejs';
import { ceremonyAnchors, ceremonyEvidence } from './ceremony-evidence.nodejs';
import { CURRENT_CUSTODIAN_TEXT } from './custodian-text.std';
import { inventoryEvidence } from './inventory-evidence.std';

/**
 * Evidence from this installation for the PCI DSS report. Each source is read on its own and a
 * source that fails says why in the report instead of failing the report: an admin with no token
 * at hand still gets the inventory, the audit check and the custodians.
 *
 * Nothing here reads key material: token facts are object attributes (CKA_SENSITIVE,
 * CKA_EXTRACTABLE, CKA_LOCAL...), the inventory is metadata, the audit part is verify()'s result.
 */
export interface EvidenceSources {
  now: () => Date;
  lifecycle: () => Pick<KeyLifecycleService, 'list' | 'due' | 'policy' | 'flushUsage' | 'usesOf'>;
  /** The app's usage service: the audit keys' seals (3.7.4). Absent: the report does without them. */
  usage?: Pick<KeyUsageService, 'systemUsageReport'> | null;
  /** null: no token can be logged in (the caller knows), so none is asked. */
  tokens: {
    slots(): Promise<SlotSummary[]>;
    call<K extends HsmMethodName>(method: K, params: HsmParams<K>): Promise<HsmResult<K>>;
  } | null;
  audit: {
    verify(): Promise<VerifyReport>;
    /** The ceremonies' entries anchor their transcripts (ceremony-evidence.nodejs.ts). */
    query(
      filter: AuditFilter,
      limit: number,
    ): Promise<{ entries: { action: string; details?: Record<string, unknown> }[] }>;
  };
  gateway: { listProfiles(): GatewayProfileView[]; status(profileId: string): Promise<GatewayStatus> };
  custodians: { list(): CustodianView[] };
  /** `DataPaths.ceremonies`: the signed transcripts there are the split-knowledge evidence. */
  ceremonyFolder: string;
}

const reasonOf = (error: unknown) => {
  const shape = toErrorShape(error);
  return `${shape.message} [${shape.code}]`;
};

export async function collectEvidence(sources: EvidenceSources): Promise<PciEvidence> {
  const now = sources.now();
  let lifecycle: ReturnType<EvidenceSources['lifecycle']> | null = null;
  let inventory: PciInventoryEvidence;
  try {
    lifecycle = sources.lifecycle();
    // Use counts still batched in memory are written first, so the figures include them.
    lifecycle.flushUsage();
    const data = lifecycle.list();
    const l = lifecycle;
    // Uses as counted on every path (the usage service), not only the inventory's own count.
    inventory = inventoryEvidence(data, now, { policyOf: (k) => l.policy(k.id), usesOf: (v) => l.usesOf(v) });
    const audited = sources.usage?.systemUsageReport().auditKeys;
    if (inventory.ok && audited)
      inventory.auditKeyUses = audited.map(({ id, kcv, uses, operations }) => ({
        id,
        kcv,
        uses,
        operations,
      }));
    // due() is the service's own view (with pending uses and configured policies): trust it
    // for the overdue figures over the recomputation above where they differ.
    const due = l.due(now);
    const past = new Set(
      due.due
        .filter((d) => d.reasons.some((r) => r.kind === 'age' && r.level !== 'warning'))
        .map((d) => d.logicalKeyId),
    );
    for (const k of inventory.keys) k.pastCryptoPeriod = past.has(k.logicalKeyId);
    inventory.pastCryptoPeriod = past.size;
    inventory.graceExpired = due.graceExpired.length;
  } catch (error) {
    inventory = { ok: false, reason: reasonOf(error) };
  }

  const [token, audit, gateway, ceremonies] = await Promise.all([
    tokenEvidence(sources, lifecycle),
    auditEvidence(sources),
    gatewayEvidence(sources, inventory.ok ? lifecycle : null),
    anchoredCeremonies(sources),
  ]);
  return {
    inventory,
    token,
    audit,
    custodians: custodianEvidence(sources),
    gateway,
    ceremonies,
  };
}

/** Without the audit log to anchor them, no transcript is evidence (they are listed as refused). */
async function anchoredCeremonies(sources: EvidenceSources) {
  let anchors = new Map();
  let unread: string | null = null;
  try {
    anchors = ceremonyAnchors(
      (await sources.audit.query({ action: 'ceremony.' }, Number.MAX_SAFE_INTEGER)).entries,
    );
  } catch (error) {
    unread = `the audit log could not be read to anchor the transcripts: ${reasonOf(error)}`;
  }
  const evidence = ceremonyEvidence(sources.ceremonyFolder, anchors);
  return unread && !evidence.error ? { ...evidence, error: unread } : evidence;
}

const KEY_CLASSES: readonly ObjectInfo['class'][] = ['secret', 'private'];

/** SoftHSM2 says so in its token info; it is a software token whatever it is called. */
export function isSoftwareToken(t: { manufacturer: string; model: string }): boolean {
  return /softhsm/i.test(`${t.manufacturer} ${t.model}`);
}

async function tokenEvidence(
  sources: EvidenceSources,
  lifecycle: ReturnType<EvidenceSources['lifecycle']> | null,
): Promise<PciTokenEvidence> {
  if (sources.tokens === null) return { checked: false, reason: 'token not logged in' };
  const tokens = sources.tokens;
  let slots: SlotSummary[];
  try {
    slots = await tokens.slots();
  } catch (error) {
    return { checked: false, reason: `no token reachable: ${reasonOf(error)}` };
  }
  const loggedIn = slots.filter((s) => s.token && s.session.loggedIn);
  if (loggedIn.length === 0) return { checked: false, reason: 'token not logged in' };
  const result: Extract<PciTokenEvidence, { checked: true }> = {
    checked: true,
    tokens: [],
    keys: 0,
    sensitive: 0,
    nonExtractable: 0,
    neverExtractable: 0,
    generatedOnToken: 0,
    exposed: [],
    managedFound: 0,
    managedMissing: 0,
  };
  const versions = (() => {
    try {
      return lifecycle?.list().versions ?? [];
    } catch {
      return [];
    }
  })();
  for (const slot of loggedIn) {
    const info = slot.token!;
    const serial = info.serial.trim();
    result.tokens.push({
      serial,
      label: info.label.trim(),
      manufacturer: info.manufacturer.trim(),
      model: info.model.trim(),
      software: isSoftwareToken(info),
    });
    let objects: ObjectInfo[];
    try {
      objects = await tokens.call('listObjects', { slotId: slot.slotId });
    } catch (error) {
      return { checked: false, reason: `the token's objects could not be listed: ${reasonOf(error)}` };
    }
    const keys = objects.filter((o) => KEY_CLASSES.includes(o.class));
    for (const o of keys) {
      result.keys += 1;
      if (o.sensitive === true) result.sensitive += 1;
      if (o.extractable === false) result.nonExtractable += 1;
      if (o.neverExtractable === true) result.neverExtractable += 1;
      if (o.local === true) result.generatedOnToken += 1;
      if (o.sensitive !== true || o.extractable !== false) {
        result.exposed.push({ label: o.label, class: o.class, serial });
      }
    }
    const ids = new Set(keys.map((o) => o.id));
    for (const v of versions) {
      if (v.tokenSerial !== serial || v.ckaId === null || v.state === 'destroyed') continue;
      if (ids.has(v.ckaId)) result.managedFound += 1;
      else result.managedMissing += 1;
    }
  }
  return result;
}

async function auditEvidence(sources: EvidenceSources): Promise<PciAuditEvidence> {
  try {
    const r = await sources.audit.verify();
    return {
      ok: r.ok,
      entries: r.entries,
      seals: r.seals,
      sealsVerified: r.sealsVerified,
      unsealed: r.unsealed,
      firstBad: r.firstBad ? { seq: r.firstBad.seq, line: r.firstBad.line, reason: r.firstBad.reason } : null,
      error: null,
    };
  } catch (error) {
    return {
      ok: false,
      entries: 0,
      seals: 0,
      sealsVerified: false,
      unsealed: 0,
      firstBad: null,
      error: reasonOf(error),
    };
  }
}

async function gatewayEvidence(
  sources: EvidenceSources,
  lifecycle: ReturnType<EvidenceSources['lifecycle']> | null,
): Promise<PciGatewayEvidence> {
  const transport = { registered: 0, pending: 0, failed: 0, skipped: 0 };
  try {
    for (const v of lifecycle?.list().versions ?? []) {
      if (v.purpose !== 'gateway-transport' || v.state !== 'active') continue;
      const s = v.gateway.status;
      if (s === 'registered' || s === 'pending' || s === 'failed' || s === 'skipped') transport[s] += 1;
    }
    const profiles: PciGatewayEvidence['profiles'] = [];
    for (const p of sources.gateway.listProfiles()) {
      const st = await sources.gateway.status(p.id);
      profiles.push({
        id: p.id,
        name: p.name,
        pinnedFingerprint: st.gatewayKey.pinned?.spkiSha256 ?? null,
        keyStatus: st.gatewayKey.status,
        pins: [
          ...(st.gatewayKey.pinned ? [{ key: 'encryption' as const, pinned: st.gatewayKey.pinned }] : []),
          ...(st.signingKey.pinned ? [{ key: 'signing' as const, pinned: st.signingKey.pinned }] : []),
        ].map(({ key, pinned }) => ({ key, fingerprint: pinned.spkiSha256, confirmed: pinned.confirmed })),
        merchantKeysActive: st.merchantKeys.filter((k) => k.status === 'active').length,
        lastSync: st.lastSync ? { at: st.lastSync.at, ok: st.lastSync.ok } : null,
      });
    }
    return { profiles, transport, error: null };
  } catch (error) {
    return { profiles: [], transport, error: reasonOf(error) };
  }
}

function custodianEvidence(sources: EvidenceSources): PciCustodianEvidence {
  let list: CustodianView[];
  try {
    list = sources.custodians.list();
  } catch (error) {
    return {
      textVersion: CURRENT_CUSTODIAN_TEXT.version,
      current: 0,
      stale: 0,
      revoked: 0,
      list: [],
      error: reasonOf(error),
    };
  }
  return {
    error: null,
    textVersion: CURRENT_CUSTODIAN_TEXT.version,
    current: list.filter((c) => c.current).length,
    stale: list.filter((c) => c.revokedAt === null && !c.current).length,
    revoked: list.filter((c) => c.revokedAt !== null).length,
    list,
  };
}
