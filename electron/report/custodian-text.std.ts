import type { CustodianText } from '../../shared/contract/report.std';

/**
 * What a key custodian acknowledges (PCI DSS v4 3.7.8). Versioned: changing the duties means a
 * new version, and every custodian must acknowledge the new text (older acknowledgements show as
 * stale in the report). Never edit a published version in place; add the next one.
 */
export const CUSTODIAN_TEXTS: readonly CustodianText[] = [
  {
    version: '1',
    title: 'Key custodian responsibilities',
    paragraphs: [
      'I am a key custodian for the cryptographic keys this organization uses to protect payment data, managed with Merchant Key Manager on a PKCS#11 token.',
      'I will keep the token PINs and any security officer PIN I hold secret: I will not write them down where others can read them, share them, send them by e-mail or chat, or type them where others can see.',
      'I will use the keys only for their stated purpose and only through the approved tools and procedures, and I will not try to export, copy or reveal key material.',
      'I will rotate keys when their crypto-period ends or when told to, retire and destroy keys as the key-management procedure says, and keep the audit log intact.',
      'I will report at once to the security contact any suspected or known compromise of a key, a PIN or a token, any lost or stolen token, and anything unusual in the audit log.',
      'I understand that I must give up my access (PINs changed, token returned) when I leave this role or the organization, and that breaking these duties may lead to disciplinary action.',
    ],
  },
];

export const CURRENT_CUSTODIAN_TEXT: CustodianText = CUSTODIAN_TEXTS[CUSTODIAN_TEXTS.length - 1]!;
