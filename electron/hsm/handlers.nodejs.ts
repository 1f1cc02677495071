import { kcvFeature } from '../../shared/capability-gate.std';
import type { Contract } from '../../shared/contract.std';
import { MkmError } from '../../shared/errors.std';
import type { ObjectClass } from '../../shared/tokens.std';
import type { EventBus, Handlers } from '../core/registry.nodejs';
import { managedByOnDisk } from '../lifecycle/inventory.nodejs';
import { requireCapability } from './capability-guard.nodejs';
import { isRsaGeneration } from './client.nodejs';
import type { TokensService } from './tokens.nodejs';

/**
 * The contract's token and key channels, over the token host. PINs pass straight through to the
 * host for the one call that needs them; nothing here keeps or logs them.
 */
export interface TokenHandlerDeps {
  events: EventBus;
  /**
   * Awaited after a successful login, before it returns: what the login returns to is a token
   * whose audit key and head are in place (see attachAuditAtLogin).
   */
  attachAudit(slotId: number): Promise<void>;
  /** Started after a login, not awaited: key work a crash interrupted goes on (best effort). */
  resumeKeyWork(): void;
}

export function tokenHandlers(tokens: TokensService, deps: TokenHandlerDeps): Handlers<Contract>['tokens'] {
  return {
    modules: () => tokens.state(),
    selectModule: ({ path, demo, libraryParameters }) =>
      tokens.selectModule({
        path,
        ...(demo !== undefined ? { demo } : {}),
        ...(libraryParameters !== undefined ? { libraryParameters } : {}),
      }),
    browseModule: ({ libraryParameters }) =>
      tokens.browseModule(libraryParameters !== undefined ? { libraryParameters } : {}),
    list: () => tokens.slots(),
    login: async (request) => {
      const result = await tokens.call('login', request);
      await deps.attachAudit(request.slotId);
      deps.events.emit('state.changed', { what: 'login', slotId: request.slotId });
      deps.resumeKeyWork();
      return result;
    },
    logout: (req) => tokens.call('logout', req),
    cancel: ({ operationId }) => ({ cancelled: tokens.operations.cancel(operationId) }),
    changePin: (req) => tokens.call('changePin', req),
    initToken: ({ slotId, soPin, label }) => tokens.call('initToken', { slotId, soPin, label }),
    initUserPin: ({ slotId, soPin, userPin }) => tokens.call('initUserPin', { slotId, soPin, userPin }),
    capabilities: ({ slotId, refresh }) => tokens.capabilities(slotId, refresh ?? false),
    knownCapabilities: ({ slotId }) => tokens.knownCapabilities(slotId),
  };
}

/**
 * Refuses to destroy, object by object, a key the lifecycle manages: that would leave a record
 * naming a key that is gone (and, for a primary, stop encryption) with no tombstone. It is not
 * routed through the lifecycle instead: destroying a version destroys all its objects, needs the
 * version deactivated or compromised first and its label typed again, and the CLI cannot reach
 * the lifecycle while the app holds it. The inventory is read from disk, so the check works in
 * the CLI even then.
 */
async function refuseManaged(
  tokens: TokensService,
  inventoryDir: string,
  ref: { slotId: number; id: string; class: ObjectClass },
): Promise<void> {
  if (ref.id === '') return;
  const slot = (await tokens.slots()).find((s) => s.slotId === ref.slotId);
  if (!slot?.token) return; // destroyObject says what is wrong with the slot
  const object = await tokens.call('getObject', ref);
  const owner = managedByOnDisk(inventoryDir, {
    tokenSerial: slot.token.serial.trim(),
    ckaId: ref.id,
    label: object.label,
  });
  if (!owner) return;
  if (owner.kind === 'rotation') {
    throw new MkmError(
      'KEY_MANAGED',
      'This key belongs to a key rotation in progress; let it finish (log in again) or abandon it.',
      { rotationId: owner.rotationId, logicalKeyId: owner.logicalKeyId },
    );
  }
  throw new MkmError(
    'KEY_MANAGED',
    `This key is version ${owner.version} of a key managed by mkm's key lifecycle; destroy it from the key's versions (Managed keys, or mkm keys destroy-version ${owner.versionId}) so the record stays as a tombstone.`,
    {
      versionId: owner.versionId,
      logicalKeyId: owner.logicalKeyId,
      version: owner.version,
      state: owner.state,
    },
  );
}

export function keyHandlers(
  tokens: TokensService,
  options: {
    inventoryDir: string;
    /** The audit log: a key kept with the token's wider usage is recorded there, never silently. */
    record?: (entry: {
      action: string;
      result: 'ok';
      key?: { id: string; fingerprint?: string };
      details?: Record<string, unknown>;
    }) => void;
  },
): Handlers<Contract>['keys'] {
  return {
    list: (req) => tokens.call('listObjects', req),
    get: (req) => tokens.call('getObject', req),
    generate: ({ operationId, ...params }, ctx) => {
      const id = operationId ?? ctx.callId;
      const slow = isRsaGeneration('generateKey', params);
      ctx.events.emit('progress', {
        operationId: id,
        phase: 'started',
        fraction: null,
        message: `Generating ${params.type} on the token…`,
      });
      return tokens
        .call('generateKey', params, {
          onProgress: (p) =>
            ctx.events.emit('progress', {
              operationId: id,
              phase: 'running',
              fraction: null,
              message: `Generating ${params.type} on the token… ${Math.round(p.elapsedMs / 1000)} s${slow ? ' (RSA can take a minute on a smartcard)' : ''}`,
            }),
        })
        .then((made) => {
          if (made.widerUsage?.length) {
            options.record?.({
              action: 'key.generate.wider-usage',
              result: 'ok',
              key: { id: made.id, ...(made.spkiSha256 ? { fingerprint: made.spkiSha256 } : {}) },
              details: {
                slotId: params.slotId,
                type: made.type,
                purpose: made.purpose,
                label: made.label,
                widerUsage: made.widerUsage,
                acceptedBy: 'admin',
              },
            });
          }
          return made;
        })
        .finally(() =>
          ctx.events.emit('progress', { operationId: id, phase: 'done', fraction: 1, message: 'Done.' }),
        );
    },
    exportPublic: (req) => tokens.call('exportPublicKey', req),
    kcv: async (req) => {
      // Which capability depends on the key's type (AES: CMAC, HMAC: HMAC-SHA256).
      const key = await tokens.call('getObject', { slotId: req.slotId, id: req.id, class: 'secret' });
      await requireCapability(tokens, req.slotId, kcvFeature(key.keyType));
      return tokens.call('kcv', req);
    },
    csr: (req) => tokens.call('createCsr', req),
    destroy: async ({ slotId, id, class: cls }) => {
      await refuseManaged(tokens, options.inventoryDir, { slotId, id, class: cls });
      return tokens.call('destroyObject', { slotId, id, class: cls, confirm: true });
    },
    // TR-31 key blocks (issue 11 point 4): the token host does the work (tr31-ops.host.ts).
    exportTr31: (req) => tokens.call('tr31Export', req),
    importTr31: (req) => tokens.call('tr31Import', req),
  };
}
