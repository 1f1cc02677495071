import { describe, expect, it } from 'vitest';
import { PCI_REQUIREMENT_IDS, PCI_REQUIREMENTS } from '../../../electron/report/pci-requirements.std';
import { CURRENT_CUSTODIAN_TEXT, CUSTODIAN_TEXTS } from '../../../electron/report/custodian-text.std';

describe('the PCI DSS 3.6/3.7 requirements catalogue', () => {
  it('has every requirement from 3.6.1 to 3.7.9 exactly once, in the standard’s order', () => {
    const ids = PCI_REQUIREMENTS.map((r) => r.id);
    expect(ids).toEqual([...PCI_REQUIREMENT_IDS]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['3.6.1', '3.6.1.1', '3.6.1.2', '3.6.1.3', '3.6.1.4']));
    for (let n = 1; n <= 9; n++) expect(ids.filter((id) => id === `3.7.${n}`)).toHaveLength(1);
  });

  it('says for each what mkm does and what the organization must do, in its own short words', () => {
    for (const r of PCI_REQUIREMENTS) {
      expect(r.section, r.id).toBe(r.id.startsWith('3.6') ? '3.6' : '3.7');
      expect(r.title.length, r.id).toBeGreaterThan(20);
      expect(r.title.length, `${r.id}: a paraphrase, not the standard's text`).toBeLessThan(170);
      expect(r.mkmDoes.length, r.id).toBeGreaterThan(20);
      expect(r.adminMust.length, r.id).toBeGreaterThan(20);
    }
  });

  it('marks the service-provider-only requirements as such', () => {
    const sp = PCI_REQUIREMENTS.filter((r) => r.appliesTo === 'service-providers').map((r) => r.id);
    expect(sp).toEqual(['3.6.1.1', '3.7.9']);
  });

  it('has a custodian responsibilities text whose versions are unique, the newest in force', () => {
    const versions = CUSTODIAN_TEXTS.map((t) => t.version);
    expect(new Set(versions).size).toBe(versions.length);
    expect(CURRENT_CUSTODIAN_TEXT).toBe(CUSTODIAN_TEXTS[CUSTODIAN_TEXTS.length - 1]);
    expect(CURRENT_CUSTODIAN_TEXT.paragraphs.join(' ')).toMatch(/PIN/);
  });
});
