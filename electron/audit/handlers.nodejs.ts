import type { AuditEntryView, Contract } from '../../shared/contract.std';
import { MkmError, toErrorShape } from '../../shared/errors.std';
import type { Logger } from '../core/logger.nodejs';
import type { EventBus, Handlers } from '../core/registry.nodejs';
import type { TokensService } from '../hsm/tokens.nodejs';
import { AUDIT_KEY_LABEL, type AppAudit } from './app-audit.nodejs';

/** The `audit.*` channels. */
export function auditHandlers(audit: AppAudit): Handlers<Contract>['audit'] {
  return {
    status: () => audit.status(),
    verify: () => audit.verify(),
    query: async ({ filter, limit }) => {
      const { entries, matched } = await audit.query(filter ?? {}, limit ?? 500);
      return { entries: entries as AuditEntryView[], matched };
    },
    export: async ({ format, filter }) => ({ format, content: await audit.export(format, filter ?? {}) }),
    recover: async () => {
      const result = await audit.recover();
      audit.record({
        action: 'audit.recover',
        result: 'ok',
        details: {
          quarantinedTo: result.movedTo,
          reason: result.reason,
          oldHead: result.oldHead
            ? { seq: result.oldHead.seq, lines: result.oldHead.lines, fingerprint: result.oldHead.hash }
            : null,
          verifiedOk: result.verified.ok,
          sealsVerified: result.verified.sealsVerified,
        },
      });
      return result;
    },
    replaceKey: () => audit.replaceKey(),
  };
}

/**
 * The audit key and the audit head are the app's own: keys.destroy refuses them
 * (AUDIT_KEY_PROTECTED), and keys.generate refuses a second key with the audit role or label
 * (AUDIT_KEY_RESERVED), which only the audit trail makes.
 */
export function auditGuardedKeys(
  keys: Handlers<Contract>['keys'],
  audit: AppAudit,
  tokens: TokensService,
): Handlers<Contract>['keys'] {
  return {
    ...keys,
    generate: (request, ctx) => {
      if (request.purpose === 'audit' || request.label === AUDIT_KEY_LABEL) {
        throw new MkmError('AUDIT_KEY_RESERVED', undefined, {
          label: request.label,
          purpose: request.purpose,
        });
      }
      return keys.generate(request, ctx);
    },
    destroy: async (request, ctx) => {
      const object = await tokens.call('getObject', {
        slotId: request.slotId,
        id: request.id,
        class: request.class,
      });
      await audit.refuseDestroy({ id: request.id, label: object.label, class: request.class });
      return keys.destroy(request, ctx);
    },
  };
}

/**
 * The audit trail's part of a login: it takes the token's audit key and head. Sealing is best
 * effort: a token that cannot hold one more key still lets the admin in. A log behind the token's
 * head is another matter: the audit trail refuses further audited calls (AUDIT_UNAVAILABLE) and
 * says so itself.
 */
export function attachAuditAtLogin(deps: {
  audit: AppAudit;
  tokens: TokensService;
  events: EventBus;
  logger: Logger;
}): (slotId: number) => Promise<void> {
  const { audit, tokens, events, logger } = deps;
  return (slotId) =>
    audit.attachToken(tokens, slotId).catch((error) => {
      const code = toErrorShape(error).code;
      if (code === 'AUDIT_ROLLED_BACK') return;
      logger.warn('audit entries stay unsealed: the audit key is not usable', { error });
      events.emit('app.notice', {
        level: 'warning',
        code,
        message: 'Audit entries cannot be sealed with this token; they are kept unsealed until a token can.',
      });
    });
}
