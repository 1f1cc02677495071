import { commandGroup } from './context.cli';

// Every top-level command and group, one line each, in the order `mkm --help` lists them. The
// module behind a line is imported only when its command runs. Those that always reach the token
// are named in TOKEN_COMMANDS (argv.std.ts): their host process is forked first of all.
commandGroup('tokens', 'list PKCS#11 slots and tokens with their flags', () => import('./tokens.cli'));
commandGroup(
  'login-test',
  'log in to the token (PIN from MKM_PIN or a prompt) and out again',
  () => import('./tokens.cli'),
);
commandGroup(
  'capabilities',
  'probe what the token really supports (cached per model and firmware)',
  () => import('./tokens.cli'),
);
commandGroup('keys', 'keys on the token', () => import('./tokens.cli'));
commandGroup('audit', 'the tamper-evident audit log', () => import('./audit.cli'));
commandGroup(
  'gateway',
  "payment gateway profiles, keys and key sets (password from the profile's --password-env)",
  () => import('./gateway.cli'),
);
commandGroup('lifecycle', 'managed keys: versions, states and rotation', () => import('./lifecycle.cli'));
commandGroup(
  'rotate <ref>',
  'rotate a managed key (by id or name) now: a new primary version, the old one in grace',
  () => import('./lifecycle.cli'),
);
commandGroup('keys', 'keys on the token', () => import('./lifecycle.cli'));
commandGroup('keys', 'keys on the token', () => import('./usage.cli'));
// TR-31
commandGroup('keys', 'keys on the token', () => import('./tr31.cli'));
commandGroup('console', 'the payload test console: encrypt, verify, batch', () => import('./console.cli'));
commandGroup('console', 'the payload test console', () => import('./troubleshoot.cli'));
commandGroup(
  'exchange',
  'signed exchange packages (.mkmx) for air-gapped machines: export, verify, import',
  () => import('./exchange.cli'),
);
commandGroup(
  'ceremony',
  'key ceremonies: templates, review, status, signed transcripts',
  () => import('./ceremony.cli'),
);
commandGroup('report', 'compliance reports and key custodians', () => import('./report.cli'));
commandGroup('support', 'diagnostics for support (redacted)', () => import('./support.cli'));
