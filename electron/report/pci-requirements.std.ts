import type { PciEvidence, PciFact, PciRequirementResult, PciStatus } from '../../shared/contract/report.std';

/**
 * PCI DSS v4.0 requirements 3.6 and 3.7, as data: a short paraphrase of each (the standard's own
 * text belongs to the PCI SSC; read it there), what mkm does for it, what the admin must do, and
 * the function that turns this installation's evidence into a status. The assessments are pure
 * and take the evidence only, so the status rules are tested with made-up evidence and an
 * injected clock upstream.
 *
 * Status rules, in short: `attention` whenever the evidence shows something wrong (a key past its
 * crypto-period, an exportable key, a tampered audit log, no custodian acknowledgement); `met`
 * when the evidence supports the requirement; `manual` when mkm cannot see enough to tell (token
 * not logged in, no managed keys yet, procedures only the organization can show); `n/a` for
 * service-provider-only requirements.
 */
export interface Assessment {
  status: PciStatus;
  why: string[];
  facts: PciFact[];
}

export interface PciRequirement {
  id: string;
  section: '3.6' | '3.7';
  title: string;
  appliesTo: 'all' | 'service-providers';
  mkmDoes: string;
  adminMust: string;
  /** Which parts of the evidence feed the assessment (shown in the report). */
  evidence: (keyof PciEvidence)[];
  assess(e: PciEvidence): Assessment;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

const PIN_NAMES = { encryption: 'encryption key', signing: 'key-set signing key' } as const;

// ---------------------------------------------------------------- shared findings

/** Findings about the inventory that 3.6.1 and 3.7.4 share. */
function cryptoPeriodFindings(e: PciEvidence): string[] {
  if (!e.inventory.ok) return [];
  const why: string[] = [];
  if (e.inventory.pastCryptoPeriod > 0) {
    const names = e.inventory.keys.filter((k) => k.pastCryptoPeriod).map((k) => k.name);
    why.push(
      `${plural(e.inventory.pastCryptoPeriod, 'key is', 'keys are')} past ${e.inventory.pastCryptoPeriod === 1 ? 'its' : 'their'} crypto-period (${names.join(', ')})${
        e.inventory.overdue ? `, ${e.inventory.overdue} overdue beyond the grace period` : ''
      }: rotate ${e.inventory.pastCryptoPeriod === 1 ? 'it' : 'them'}.`,
    );
  }
  if (e.inventory.compromisedUnreplaced > 0) {
    why.push(
      `${plural(e.inventory.compromisedUnreplaced, 'key has', 'keys have')} a compromised version and no replacement yet.`,
    );
  }
  return why;
}

function exposedFindings(e: PciEvidence): string[] {
  if (!e.token.checked || e.token.exposed.length === 0) return [];
  return [
    `${plural(e.token.exposed.length, 'key')} on the token can be exported or is not sensitive (${e.token.exposed
      .map((k) => `${k.label || '(no label)'} [${k.class}]`)
      .join(', ')}).`,
  ];
}

function softwareTokenFinding(e: PciEvidence): string[] {
  if (!e.token.checked) return [];
  const soft = e.token.tokens.filter((t) => t.software);
  return soft.length
    ? [
        `The token ${soft.map((t) => `“${t.label}”`).join(', ')} is a software token (${soft[0]!.model}), not a secure cryptographic device: use a hardware HSM or smart card for production keys.`,
      ]
    : [];
}

function tokenFacts(e: PciEvidence): PciFact[] {
  if (!e.token.checked) return [{ label: 'Token attributes', value: `not checked: ${e.token.reason}` }];
  const t = e.token;
  return [
    {
      label: 'Token(s)',
      value: t.tokens.map((x) => `${x.label} (${x.manufacturer} ${x.model}, serial ${x.serial})`).join('; '),
    },
    { label: 'Secret and private keys on the token', value: String(t.keys) },
    { label: 'Sensitive (CKA_SENSITIVE)', value: `${t.sensitive} of ${t.keys}` },
    { label: 'Not extractable (CKA_EXTRACTABLE false)', value: `${t.nonExtractable} of ${t.keys}` },
    { label: 'Never extractable', value: `${t.neverExtractable} of ${t.keys}` },
    { label: 'Generated on the token (CKA_LOCAL)', value: `${t.generatedOnToken} of ${t.keys}` },
    {
      label: 'Managed versions found / missing on the token',
      value: `${t.managedFound} / ${t.managedMissing}`,
    },
  ];
}

function inventoryFacts(e: PciEvidence): PciFact[] {
  if (!e.inventory.ok) return [{ label: 'Key inventory', value: `not read: ${e.inventory.reason}` }];
  const i = e.inventory;
  const states = Object.entries(i.byState)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  return [
    { label: 'Managed keys / versions', value: `${i.logicalKeys} / ${i.versions}` },
    { label: 'Versions by state', value: states || 'none' },
  ];
}

function noKeys(e: PciEvidence): boolean {
  return e.inventory.ok && e.inventory.logicalKeys === 0;
}

/** The usual shape: findings → attention; evidence missing → manual; else met. */
function decide(findings: string[], missing: string[], metWhy: string, facts: PciFact[]): Assessment {
  if (findings.length) return { status: 'attention', why: findings, facts };
  if (missing.length) return { status: 'manual', why: missing, facts };
  return { status: 'met', why: [metWhy], facts };
}

function missingBasics(e: PciEvidence, needToken: boolean): string[] {
  const missing: string[] = [];
  if (!e.inventory.ok) missing.push(`The key inventory could not be read: ${e.inventory.reason}.`);
  else if (noKeys(e)) missing.push('No managed keys yet: create or adopt keys, then run the report again.');
  if (needToken && !e.token.checked) missing.push(`Token attributes not checked: ${e.token.reason}.`);
  return missing;
}

// ---------------------------------------------------------------- key ceremonies

/** The templates whose ceremony is a manual clear-text key operation (3.7.6). */
const MANUAL_CLEAR_TEMPLATES: readonly string[] = ['form-key', 'split-key', 'kek-recover'];

type CeremonyRecord = PciEvidence['ceremonies']['verified'][number];

const showsSplitAndDual = (c: CeremonyRecord) =>
  c.state === 'completed' && c.clearSteps.length > 0 && c.splitKnowledge && c.dualControl;

function ceremonyFacts(e: PciEvidence, only?: readonly string[]): PciFact[] {
  const c = e.ceremonies;
  if (c.error) return [{ label: 'Key ceremonies', value: `not read: ${c.error}` }];
  const verified = c.verified.filter((r) => !only || only.includes(r.template));
  const facts: PciFact[] = [
    {
      label: 'Key ceremony transcripts verified / refused / in progress',
      value: `${verified.length} / ${c.refused.length} / ${c.inProgress.length}`,
    },
  ];
  for (const r of verified) {
    const steps = r.clearSteps.map(
      (s) => `${s.step} by ${s.custodian}, confirmed by ${s.confirmer ?? 'nobody'}`,
    );
    facts.push({
      label: `Ceremony ${r.template} “${r.title}” (${r.state}, ${r.startedAt} to ${r.closedAt})`,
      value: [
        steps.length ? `clear-text steps: ${steps.join('; ')}` : 'no clear-text component or share step',
        `split knowledge ${r.splitKnowledge ? 'held' : 'NOT shown'}`,
        `dual control ${r.dualControl ? 'held' : 'NOT shown'}`,
        r.keyKcv ? `key KCV ${r.keyKcv}` : null,
        `exceptions: ${r.exceptions.length ? r.exceptions.join('; ') : 'none'}`,
        `signed off by ${r.signedOff.length ? r.signedOff.join(', ') : 'nobody'}`,
        `transcript signer ${r.signer}`,
      ]
        .filter((x) => x !== null)
        .join('; '),
    });
  }
  for (const r of c.refused)
    facts.push({
      label: `Transcript ${r.file}`,
      value: `does not verify, not used as evidence: ${r.reason}`,
    });
  for (const r of c.inProgress)
    facts.push({
      label: `Ceremony ${r.id}`,
      value: `in progress (${r.template ?? 'template unknown'}, started ${r.startedAt ?? 'at an unknown time'})`,
    });
  return facts;
}

/**
 * Split knowledge and dual control from the ceremonies: `met` when a completed, verified ceremony
 * (of `only`'s templates) shows both; a transcript that does not verify refuses the evidence.
 */
function ceremonyFindings(
  e: PciEvidence,
  only?: readonly string[],
): { findings: string[]; missing: string[]; met: CeremonyRecord[] } {
  const c = e.ceremonies;
  if (c.error)
    return { findings: [`The key ceremony records could not be read: ${c.error}.`], missing: [], met: [] };
  const verified = c.verified.filter((r) => (!only || only.includes(r.template)) && r.clearSteps.length > 0);
  const findings: string[] = [];
  if (c.refused.length)
    findings.push(
      `Evidence refused: ${plural(c.refused.length, 'ceremony transcript does', 'ceremony transcripts do')} not verify (${c.refused.map((r) => r.file).join(', ')}): investigate; ${c.refused.length === 1 ? 'it is' : 'they are'} not counted.`,
    );
  for (const r of verified.filter((x) => x.state === 'completed' && !showsSplitAndDual(x)))
    findings.push(
      `The ${r.template} ceremony “${r.title}” does not show ${[!r.splitKnowledge && 'split knowledge', !r.dualControl && 'dual control'].filter(Boolean).join(' or ')}.`,
    );
  const met = verified.filter(showsSplitAndDual);
  const missing: string[] = [];
  if (met.length === 0) {
    const aborted = verified.filter((r) => r.state === 'aborted').length;
    missing.push(
      verified.length === 0
        ? 'Split knowledge and dual control (key ceremonies): not yet used; no completed ceremony on this machine handled clear-text key components.'
        : `Split knowledge and dual control: no completed ceremony shows them yet${aborted ? ` (${plural(aborted, 'ceremony was', 'ceremonies were')} aborted)` : ''}.`,
    );
  }
  return { findings, missing, met };
}

// ---------------------------------------------------------------- the catalogue

export const PCI_REQUIREMENTS: readonly PciRequirement[] = [
  {
    id: '3.6.1',
    section: '3.6',
    title: 'Procedures protect the keys that protect stored account data against disclosure and misuse',
    appliesTo: 'all',
    mkmDoes:
      'Keys are generated inside the PKCS#11 token as sensitive, non-extractable objects and are used there; mkm never exports secret or private key material. Each key has one purpose and a crypto-period, and every lifecycle action is in the tamper-evident audit log.',
    adminMust:
      'Write and follow the key-management procedure (who may log in to the token, where the token is kept, what happens on compromise), and keep key-encrypting keys at least as strong as the keys they protect.',
    evidence: ['inventory', 'token'],
    assess: (e) =>
      decide(
        [...cryptoPeriodFindings(e), ...exposedFindings(e)],
        missingBasics(e, true),
        'Every key on the token is sensitive and non-extractable, and no key is past its crypto-period.',
        [...inventoryFacts(e), ...tokenFacts(e)],
      ),
  },
  {
    id: '3.6.1.1',
    section: '3.6',
    title: 'Service providers only: a documented description of the cryptographic architecture',
    appliesTo: 'service-providers',
    mkmDoes:
      'The key inventory in this report (algorithms, key strengths, purposes, crypto-periods, the token in use) is material for that description.',
    adminMust:
      'Not applicable to a merchant. A service provider must maintain the architecture document itself (algorithms, protocols, keys, their strength and expiry, usage, and the HSM inventory).',
    evidence: ['inventory'],
    assess: (e) => ({
      status: 'n/a',
      why: ['Applies to service providers only; mkm is a merchant tool.'],
      facts: inventoryFacts(e),
    }),
  },
  {
    id: '3.6.1.2',
    section: '3.6',
    title:
      'Secret and private keys are stored only in a secure form (inside a secure cryptographic device, encrypted under a KEK, or as key components)',
    appliesTo: 'all',
    mkmDoes:
      'Secret and private keys live only inside the PKCS#11 token (CKA_SENSITIVE true, CKA_EXTRACTABLE false); the inventory holds metadata, KCVs and public-key fingerprints only. Keys entered or revealed as components or shares go through a key ceremony: each component by a different custodian, each step confirmed by a second person, recorded in a signed transcript.',
    adminMust:
      'Use a token that is a secure cryptographic device (a FIPS 140-2/3 or PCI PTS HSM) in production, and keep its backups under the same protection. Keep each custodian’s component or share under their sole control.',
    evidence: ['token', 'ceremonies'],
    assess: (e) => {
      const c = ceremonyFindings(e);
      const a = decide(
        [...exposedFindings(e), ...softwareTokenFinding(e), ...c.findings],
        [...missingBasics(e, true), ...c.missing],
        'All secret and private keys are inside the token as sensitive, non-extractable objects.',
        [...tokenFacts(e), ...ceremonyFacts(e)],
      );
      if (a.status === 'met')
        a.why.push(
          `Split knowledge and dual control held in ${plural(c.met.length, 'completed key ceremony', 'completed key ceremonies')} whose signed transcript verifies.`,
        );
      return a;
    },
  },
  {
    id: '3.6.1.3',
    section: '3.6',
    title: 'Access to cleartext key components is limited to the fewest custodians necessary',
    appliesTo: 'all',
    mkmDoes:
      'Keys mkm generates never exist in cleartext outside the token, so there are no components to hold. Keys adopted from the token may have been loaded from components outside mkm; the report counts them.',
    adminMust:
      'If any key was loaded from components, keep the list of who holds them and keep it short; custodians acknowledge their duties below (3.7.8).',
    evidence: ['inventory', 'custodians'],
    assess: (e) => {
      const facts: PciFact[] = [
        { label: 'Custodians with a current acknowledgement', value: String(e.custodians.current) },
      ];
      if (!e.inventory.ok || noKeys(e)) {
        return { status: 'manual', why: missingBasics(e, false), facts };
      }
      const { adopted, imported, generated } = e.inventory.byOrigin;
      facts.unshift({
        label: 'Versions generated on the token / adopted / imported',
        value: `${generated} / ${adopted} / ${imported}`,
      });
      const findings = exposedFindings(e);
      if (findings.length) return { status: 'attention', why: findings, facts };
      if (adopted > 0) {
        return {
          status: 'manual',
          why: [
            `${plural(adopted, 'version was', 'versions were')} adopted: mkm cannot tell whether they were loaded from cleartext components. Record who held them.`,
          ],
          facts,
        };
      }
      return {
        status: 'met',
        why: ['Every managed secret key was generated inside the token: no cleartext components exist.'],
        facts,
      };
    },
  },
  {
    id: '3.6.1.4',
    section: '3.6',
    title: 'Keys are stored in the fewest possible locations',
    appliesTo: 'all',
    mkmDoes:
      'Each key version lives as one object on one token; the inventory records which token (by serial) and reconciles with it at every login, flagging missing objects and listing unmanaged ones.',
    adminMust:
      'Keep token backups and spare tokens to the minimum your recovery plan needs, and document where each one is.',
    evidence: ['inventory', 'token'],
    assess: (e) => {
      if (!e.inventory.ok || noKeys(e)) {
        return { status: 'manual', why: missingBasics(e, false), facts: inventoryFacts(e) };
      }
      const facts: PciFact[] = [
        { label: 'Tokens holding managed keys', value: e.inventory.tokens.join(', ') || 'none' },
        { label: 'Versions missing from their token', value: String(e.inventory.missingOnToken) },
      ];
      const findings: string[] = [];
      if (e.inventory.missingOnToken > 0) {
        findings.push(
          `${plural(e.inventory.missingOnToken, 'key version is', 'key versions are')} missing from the token: find out where ${e.inventory.missingOnToken === 1 ? 'it' : 'they'} went.`,
        );
      }
      const why =
        e.inventory.tokens.length > 1
          ? [`Managed keys are on ${e.inventory.tokens.length} tokens: document why each one is needed.`]
          : [];
      if (findings.length) return { status: 'attention', why: findings, facts };
      if (why.length) return { status: 'manual', why, facts };
      return {
        status: 'met',
        why: ['All managed keys are on one token, and none is missing from it.'],
        facts,
      };
    },
  },
  {
    id: '3.7.1',
    section: '3.7',
    title: 'Key management covers the generation of strong keys',
    appliesTo: 'all',
    mkmDoes:
      'Keys are generated by the token’s own random generator with fixed safe templates: AES-256, HMAC-SHA-256 and RSA of 2048 bits or more. Nothing weaker can be created through mkm.',
    adminMust:
      'Adopt only keys you know were generated strongly; keep the generation procedure written down.',
    evidence: ['inventory', 'token'],
    assess: (e) => {
      const facts = [...inventoryFacts(e), ...tokenFacts(e).filter((f) => f.label.startsWith('Generated'))];
      if (!e.inventory.ok || noKeys(e)) return { status: 'manual', why: missingBasics(e, false), facts };
      const types = [...new Set(e.inventory.keys.map((k) => k.type))].join(', ');
      facts.push({ label: 'Key types in use', value: types });
      if (e.inventory.byOrigin.adopted > 0) {
        return {
          status: 'manual',
          why: [
            `${plural(e.inventory.byOrigin.adopted, 'version was', 'versions were')} adopted, not generated by mkm: keep the record of how ${e.inventory.byOrigin.adopted === 1 ? 'it was' : 'they were'} generated.`,
          ],
          facts,
        };
      }
      return { status: 'met', why: [`Every version was generated on the token (${types}).`], facts };
    },
  },
  {
    id: '3.7.2',
    section: '3.7',
    title: 'Key management covers the secure distribution of keys',
    appliesTo: 'all',
    mkmDoes:
      'Only public keys leave the token. The gateway’s public key (and its key-set signing key) is pinned by its SHA-256 fingerprint, counts as confirmed only once a named person compared that fingerprint with the gateway’s out of band, and a change needs the admin’s confirmation; session keys are wrapped under registered RSA transport keys.',
    adminMust:
      'Compare each gateway key fingerprint with the one the gateway operator reads out when it is first pinned and at each rotation, record it in mkm (Gateway › Confirm fingerprint, or mkm gateway confirm-pin), and document how keys reach any other party.',
    evidence: ['gateway', 'inventory'],
    assess: (e) => {
      const g = e.gateway;
      const facts: PciFact[] = g.profiles.map((p) => ({
        label: `Gateway “${p.name}”`,
        value: `${p.keyStatus}${p.pinnedFingerprint ? `, pinned SHA-256 ${p.pinnedFingerprint}` : ''}, ${plural(p.merchantKeysActive, 'transport key', 'transport keys')} active at the gateway${p.lastSync ? `, last sync ${p.lastSync.at} ${p.lastSync.ok ? 'ok' : 'failed'}` : ''}`,
      }));
      for (const p of g.profiles) {
        for (const pin of p.pins) {
          facts.push({
            label: `Gateway “${p.name}” ${PIN_NAMES[pin.key]}`,
            value: pin.confirmed
              ? `SHA-256 ${pin.fingerprint} confirmed by ${pin.confirmed.by}${pin.confirmed.role ? ` (${pin.confirmed.role})` : ''} on ${pin.confirmed.at}`
              : `SHA-256 ${pin.fingerprint} pinned, unconfirmed`,
          });
        }
      }
      // Two counts of different things (keys at the gateway, managed versions): each says which,
      // and a gap between them is explained rather than left to look like a contradiction.
      const managed = g.transport.registered + g.transport.pending + g.transport.failed;
      const atGateway = g.profiles.reduce((n, p) => n + p.merchantKeysActive, 0);
      facts.push({
        label: 'Managed transport key versions registered / pending / failed',
        value: `${g.transport.registered} / ${g.transport.pending} / ${g.transport.failed}${
          managed === 0 && atGateway > 0
            ? ' (the keys registered at the gateway are not managed versions: adopt them under Keys → Managed keys)'
            : ''
        }`,
      });
      if (g.error) return { status: 'manual', why: [`Gateway state not read: ${g.error}.`], facts };
      const findings: string[] = [];
      for (const p of g.profiles) {
        if (p.keyStatus === 'rotation-pending')
          findings.push(`Gateway “${p.name}” serves a new key that waits for your fingerprint check.`);
        for (const pin of p.pins.filter((x) => !x.confirmed))
          findings.push(
            `Gateway “${p.name}”: its ${PIN_NAMES[pin.key]} is pinned but unconfirmed (nobody compared its fingerprint with the gateway’s): compare it with the gateway operator and confirm it (mkm gateway confirm-pin ${p.id}${pin.key === 'signing' ? ' --key signing' : ''} --fingerprint … --by NAME).`,
          );
      }
      if (g.transport.failed + g.transport.pending > 0)
        findings.push(
          `${plural(g.transport.failed + g.transport.pending, 'transport key version is', 'transport key versions are')} not registered with the gateway.`,
        );
      if (findings.length) return { status: 'attention', why: findings, facts };
      if (g.profiles.length === 0)
        return {
          status: 'manual',
          why: ['No gateway is configured: mkm distributes no keys yet. Document any other distribution.'],
          facts,
        };
      if (g.profiles.some((p) => p.keyStatus === 'none'))
        return { status: 'manual', why: ['A gateway profile has no pinned key yet: sync it.'], facts };
      return {
        status: 'met',
        why: [
          'Every gateway key is pinned by fingerprint, confirmed by a named person against the gateway’s, and every transport key in service is registered.',
        ],
        facts,
      };
    },
  },
  {
    id: '3.7.3',
    section: '3.7',
    title: 'Key management covers the secure storage of keys',
    appliesTo: 'all',
    mkmDoes:
      'Keys are stored on the token as sensitive, non-extractable objects; the inventory file holds metadata only, is validated against a schema and written atomically, and a damaged file is restored from the last good copy, never silently reset.',
    adminMust: 'Keep the token physically secure and its PINs with the custodians only.',
    evidence: ['token', 'inventory'],
    assess: (e) =>
      decide(
        [...exposedFindings(e), ...softwareTokenFinding(e)],
        missingBasics(e, true),
        'Keys are stored on the token as sensitive, non-extractable objects.',
        tokenFacts(e),
      ),
  },
  {
    id: '3.7.4',
    section: '3.7',
    title: 'Keys are changed at the end of their defined crypto-period',
    appliesTo: 'all',
    mkmDoes:
      'Each purpose has a crypto-period (and a use limit for data keys); the dashboard and `mkm keys due` show what is due and overdue, and rotation makes a new primary version while the old one only decrypts during its grace period.',
    adminMust: 'Review the due list regularly (or schedule `mkm keys due`), and rotate what it lists.',
    evidence: ['inventory'],
    assess: (e) => {
      const facts = [...inventoryFacts(e)];
      if (e.inventory.ok) {
        facts.push(
          ...e.inventory.policies.map((p) => ({
            label: `Crypto-period: ${p.purpose}`,
            value: `${p.cryptoPeriodDays} days${p.maxUses ? `, at most ${p.maxUses.toLocaleString('en-US')} uses` : ''}, grace ${p.graceDays} days`,
          })),
          { label: 'Keys past their crypto-period', value: String(e.inventory.pastCryptoPeriod) },
          { label: 'Keys due within their warning period', value: String(e.inventory.dueSoon) },
          ...e.inventory.keys
            .filter((k) => k.primaryUses !== undefined && k.primaryUses !== null)
            .map((k) => ({
              label: `Uses: ${k.name}`,
              value: `primary v${k.primaryVersion}: ${k.primaryUses!.toLocaleString('en-US')} ${
                k.maxUses
                  ? `of ${k.maxUses.toLocaleString('en-US')} allowed uses`
                  : `${k.primaryUses === 1 ? 'use' : 'uses'} (no use limit)`
              }; all versions: ${(k.totalUses ?? 0).toLocaleString('en-US')}`,
            })),
          ...(e.inventory.auditKeyUses ?? []).map((k) => ({
            label: `Uses: audit key ${k.id} (KCV ${k.kcv})`,
            value: `${k.uses.toLocaleString('en-US')} seals (audit log ${(k.operations['audit-seal'] ?? 0).toLocaleString('en-US')}, state files ${(k.operations['state-seal'] ?? 0).toLocaleString('en-US')})`,
          })),
          ...e.inventory.keys.map((k) => ({
            label: `Last rotation: ${k.name}`,
            value: `${k.lastRotation ?? 'never rotated'}${k.primaryExpiresAt ? `; primary v${k.primaryVersion} expires ${k.primaryExpiresAt}` : ''}`,
          })),
        );
      }
      const findings = cryptoPeriodFindings(e);
      if (findings.length) return { status: 'attention', why: findings, facts };
      const missing = missingBasics(e, false);
      if (missing.length) return { status: 'manual', why: missing, facts };
      return {
        status: 'met',
        why: [
          e.inventory.ok && e.inventory.dueSoon > 0
            ? `No key is past its crypto-period; ${plural(e.inventory.dueSoon, 'key is', 'keys are')} due soon.`
            : 'No key is past its crypto-period.',
        ],
        facts,
      };
    },
  },
  {
    id: '3.7.5',
    section: '3.7',
    title:
      'Keys are retired, replaced or destroyed at the end of their crypto-period or when weakened or compromised; retired keys are not used to encrypt',
    appliesTo: 'all',
    mkmDoes:
      'A replaced version only decrypts or verifies during its grace period and is then deactivated; “mark compromised” stops a version at once and rotates; destroying deletes the token object and keeps a tombstone record. Deactivated, compromised and destroyed versions are refused for encryption.',
    adminMust:
      'Replace keys when a custodian with knowledge of them leaves, and destroy retired versions once no stored data needs them.',
    evidence: ['inventory'],
    assess: (e) => {
      if (!e.inventory.ok || noKeys(e)) {
        return { status: 'manual', why: missingBasics(e, false), facts: inventoryFacts(e) };
      }
      const i = e.inventory;
      const facts: PciFact[] = [
        ...inventoryFacts(e),
        { label: 'Destroyed versions kept as tombstones', value: String(i.tombstones) },
        {
          label: 'Compromised versions',
          value: i.compromised.length
            ? i.compromised
                .map(
                  (c) =>
                    `${c.name} v${c.version} (${c.compromisedAt ?? 'date unknown'}${c.destroyed ? ', destroyed' : ''})`,
                )
                .join('; ')
            : 'none',
        },
        { label: 'Replaced versions past their grace period, still active', value: String(i.graceExpired) },
      ];
      const findings: string[] = [];
      if (i.compromisedUnreplaced > 0)
        findings.push(
          `${plural(i.compromisedUnreplaced, 'key has', 'keys have')} a compromised version and no replacement.`,
        );
      if (i.graceExpired > 0)
        findings.push(
          `${plural(i.graceExpired, 'replaced version is', 'replaced versions are')} still active after the grace period: deactivate ${i.graceExpired === 1 ? 'it' : 'them'}.`,
        );
      if (i.rotationsInFlight > 0)
        findings.push(
          `${plural(i.rotationsInFlight, 'rotation was', 'rotations were')} interrupted: log in so mkm resumes ${i.rotationsInFlight === 1 ? 'it' : 'them'}.`,
        );
      if (findings.length) return { status: 'attention', why: findings, facts };
      return {
        status: 'met',
        why: [
          'Replaced versions are within their grace period or retired, and every compromised key was replaced.',
        ],
        facts,
      };
    },
  },
  {
    id: '3.7.6',
    section: '3.7',
    title: 'Manual cleartext key operations use split knowledge and dual control',
    appliesTo: 'all',
    mkmDoes:
      'Keys formed from components, split into components or recovered from shares go through a key ceremony: the same custodian never enters two components of one key, every component or share step is confirmed by a second person, and the signed transcript records who did what. Keys mkm generates never leave the token in clear.',
    adminMust:
      'Run every manual cleartext key operation as an mkm key ceremony (or keep the dual-control record of any done outside mkm), and keep the transcripts.',
    evidence: ['inventory', 'ceremonies'],
    assess: (e) => {
      const facts: PciFact[] = ceremonyFacts(e, MANUAL_CLEAR_TEMPLATES);
      const c = ceremonyFindings(e, MANUAL_CLEAR_TEMPLATES);
      if (c.findings.length) return { status: 'attention', why: c.findings, facts };
      if (c.met.length)
        return {
          status: 'met',
          why: [
            `Split knowledge and dual control held in ${plural(c.met.length, 'completed manual cleartext key ceremony', 'completed manual cleartext key ceremonies')} whose signed transcript verifies.`,
          ],
          facts,
        };
      if (!e.inventory.ok)
        return { status: 'manual', why: [...missingBasics(e, false), ...c.missing], facts };
      if (e.inventory.byOrigin.adopted > 0) {
        return {
          status: 'manual',
          why: [
            `${plural(e.inventory.byOrigin.adopted, 'version was', 'versions were')} adopted: if any was loaded from components, show the dual-control ceremony record.`,
            ...c.missing,
          ],
          facts,
        };
      }
      const started = e.ceremonies.verified.some((r) => MANUAL_CLEAR_TEMPLATES.includes(r.template));
      if (started || e.ceremonies.inProgress.length) return { status: 'manual', why: c.missing, facts };
      return {
        status: 'n/a',
        why: [
          'No manual cleartext key operation happened through mkm: key ceremonies not yet used, and every managed key was generated on the token.',
        ],
        facts,
      };
    },
  },
  {
    id: '3.7.7',
    section: '3.7',
    title: 'Unauthorized substitution of keys is prevented',
    appliesTo: 'all',
    mkmDoes:
      'Every version is recorded with its KCV or public-key fingerprint; reconciliation at login flags token objects that vanished or appeared; the gateway key is pinned and only changes after a fingerprint confirmation; the audit log is hash-chained and sealed with an HMAC key on the token.',
    adminMust:
      'Restrict who can log in to the token, verify the audit log regularly, and investigate every finding.',
    evidence: ['audit', 'inventory', 'gateway'],
    assess: (e) => {
      const a = e.audit;
      const facts: PciFact[] = [
        {
          label: 'Audit log',
          value: a.error
            ? `not verified: ${a.error}`
            : `${a.ok ? 'intact' : 'TAMPERED'}, ${a.entries} entries, ${a.seals} seals ${a.sealsVerified ? 'checked on the token' : 'not checked (token not logged in)'}, ${a.unsealed} not sealed yet`,
        },
      ];
      if (a.firstBad)
        facts.push({
          label: 'First bad audit entry',
          value: `seq ${a.firstBad.seq ?? '?'} at line ${a.firstBad.line}: ${a.firstBad.reason}`,
        });
      if (e.inventory.ok)
        facts.push({ label: 'Versions missing from their token', value: String(e.inventory.missingOnToken) });
      const findings: string[] = [];
      if (a.error) findings.push(`The audit log could not be verified: ${a.error}.`);
      else if (!a.ok)
        findings.push(
          `The audit log failed verification at entry ${a.firstBad?.seq ?? '?'} (line ${a.firstBad?.line ?? '?'}): investigate.`,
        );
      if (e.inventory.ok && e.inventory.missingOnToken > 0)
        findings.push(
          `${plural(e.inventory.missingOnToken, 'key version is', 'key versions are')} missing from the token.`,
        );
      for (const p of e.gateway.profiles)
        if (p.keyStatus === 'rotation-pending')
          findings.push(`Gateway “${p.name}” presents a new key that is not confirmed yet.`);
      if (findings.length) return { status: 'attention', why: findings, facts };
      if (!a.sealsVerified)
        return {
          status: 'manual',
          why: [
            'The audit chain is intact, but its seals were not checked: log in to the token and run the report again.',
          ],
          facts,
        };
      if (a.seals === 0)
        return {
          status: 'manual',
          why: ['The audit chain is intact, but the token has not sealed any entry yet: log in so it does.'],
          facts,
        };
      return {
        status: 'met',
        why: [
          `The audit log is intact and its seals check out on the token${a.unsealed ? ` (${plural(a.unsealed, 'newest entry waits', 'newest entries wait')} for the next seal)` : ''}.`,
        ],
        facts,
      };
    },
  },
  {
    id: '3.7.8',
    section: '3.7',
    title: 'Key custodians formally acknowledge their responsibilities',
    appliesTo: 'all',
    mkmDoes:
      'mkm keeps the custodian responsibilities text (versioned) and records each custodian’s electronic acknowledgement: name, role, text version and date, in the data folder and in the audit log. Revoked and superseded acknowledgements stay on record.',
    adminMust:
      'Have every person who holds a token PIN acknowledge the current text, and revoke custodians who leave the role.',
    evidence: ['custodians'],
    assess: (e) => {
      const c = e.custodians;
      const facts: PciFact[] = [
        { label: 'Responsibilities text version', value: c.textVersion },
        ...c.list
          .filter((x) => x.revokedAt === null)
          .map((x) => ({
            label: `${x.name} (${x.role})`,
            value: `acknowledged version ${x.textVersion} on ${x.acknowledgedAt}${x.current ? '' : ' — older text, must acknowledge again'}`,
          })),
        { label: 'Revoked or superseded acknowledgements', value: String(c.revoked) },
      ];
      if (c.error)
        return { status: 'attention', why: [`The custodian records could not be read: ${c.error}.`], facts };
      if (c.current === 0)
        return {
          status: 'attention',
          why: [
            c.stale > 0
              ? `No custodian acknowledged the current text (version ${c.textVersion}); ${plural(c.stale, 'acknowledgement is', 'acknowledgements are')} for an older one.`
              : 'No key custodian has acknowledged their responsibilities yet.',
          ],
          facts,
        };
      if (c.stale > 0)
        return {
          status: 'attention',
          why: [
            `${plural(c.stale, 'custodian has', 'custodians have')} acknowledged only an older text: ask them to acknowledge version ${c.textVersion}.`,
          ],
          facts,
        };
      return {
        status: 'met',
        why: [
          `${plural(c.current, 'custodian has', 'custodians have')} acknowledged the current responsibilities.`,
        ],
        facts,
      };
    },
  },
  {
    id: '3.7.9',
    section: '3.7',
    title: 'Service providers only: guidance to customers who receive shared keys',
    appliesTo: 'service-providers',
    mkmDoes: 'Nothing: mkm is used by a merchant and shares no keys with customers.',
    adminMust:
      'Not applicable to a merchant. A service provider that shares keys with its customers must document and distribute guidance on transmitting, storing and updating them.',
    evidence: [],
    assess: () => ({
      status: 'n/a',
      why: ['Applies to service providers that share keys with their customers; not to a merchant.'],
      facts: [],
    }),
  },
];

/** The ids the standard defines under 3.6.1 and 3.7, in order. */
export const PCI_REQUIREMENT_IDS = [
  '3.6.1',
  '3.6.1.1',
  '3.6.1.2',
  '3.6.1.3',
  '3.6.1.4',
  '3.7.1',
  '3.7.2',
  '3.7.3',
  '3.7.4',
  '3.7.5',
  '3.7.6',
  '3.7.7',
  '3.7.8',
  '3.7.9',
] as const;

export function assessAll(e: PciEvidence): PciRequirementResult[] {
  return PCI_REQUIREMENTS.map((r) => {
    const a = r.assess(e);
    return {
      id: r.id,
      section: r.section,
      title: r.title,
      appliesTo: r.appliesTo,
      mkmDoes: r.mkmDoes,
      adminMust: r.adminMust,
      status: a.status,
      why: a.why,
      facts: a.facts,
    };
  });
}
