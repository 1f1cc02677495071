import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Registry, EventBus } from '../../../electron/core/registry.nodejs';
import { silentLogger } from '../../../electron/core/logger.nodejs';
import { auditDeclarations, channel, type ContractShape } from '../../../shared/contract-kit.std';
import { contract } from '../../../shared/contract.std';

/**
 * Every channel says, where it is declared, what the audit trail keeps of it: a channel without
 * `.audited(mapper)`, `.recordsItself()` or `.notAudited(reason)` fails the typecheck and cannot
 * be registered.
 */
const root = join(import.meta.dirname, '../../..');

describe('the audit declaration on every channel', () => {
  it("is demanded by the type checker (the fixture's @ts-expect-error must be used)", () => {
    const file = join(import.meta.dirname, 'fixtures/undeclared-channel.ts');
    const config = ts.readConfigFile(join(root, 'tsconfig.json'), (p) => ts.sys.readFile(p));
    const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
    const program = ts.createProgram([file], { ...parsed.options, noEmit: true });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    // An unused @ts-expect-error (the guard gone) is reported as an error here.
    expect(diagnostics).toEqual([]);
  }, 60_000);

  it('is demanded by the registry at start-up', () => {
    const undeclared = { ns: { x: channel(z.undefined(), 'x').returns<number>() } };
    expect(
      () =>
        new Registry({
          contract: undeclared as unknown as ContractShape,
          handlers: { ns: { x: () => 1 } } as never,
          isTrustedSender: () => true,
          logger: silentLogger,
          events: new EventBus(silentLogger),
        }),
    ).toThrow(/No audit declaration for ns\.x/);
  });

  it('is on every channel of the app, and a not-audited channel says why', () => {
    const declarations = auditDeclarations(contract);
    expect(declarations.size).toBeGreaterThan(60);
    for (const [name, d] of declarations) {
      expect(['audited', 'records-itself', 'not-audited'], name).toContain(d.kind);
      if (d.kind === 'not-audited') expect(d.reason.length, name).toBeGreaterThan(5);
    }
    // The calls that change keys, tokens or gateways are recorded.
    for (const name of [
      'keys.generate',
      'keys.destroy',
      'tokens.initToken',
      'lifecycle.rotate',
      'exchange.import',
    ])
      expect(declarations.get(name)?.kind, name).not.toBe('not-audited');
  });
});
