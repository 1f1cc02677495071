import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.main';
import { isRsaGeneration } from './client.main';
import type { TokensService } from './tokens.main';

/**
 * The contract's token and key channels, over the token host. PINs pass straight through to the
 * host for the one call that needs them; nothing here keeps or logs them.
 */
export function tokenHandlers(tokens: TokensService): Handlers<Contract>['tokens'] {
  return {
    modules: () => tokens.state(),
    selectModule: ({ path, demo, libraryParameters }) =>
      tokens.selectModule({
        path,
        ...(demo !== undefined ? { demo } : {}),
        ...(libraryParameters !== undefined ? { libraryParameters } : {}),
      }),
    list: () => tokens.slots(),
    login: (req) => tokens.call('login', req),
    logout: (req) => tokens.call('logout', req),
    changePin: (req) => tokens.call('changePin', req),
    initToken: ({ slotId, soPin, label }) => tokens.call('initToken', { slotId, soPin, label }),
    initUserPin: ({ slotId, soPin, userPin }) => tokens.call('initUserPin', { slotId, soPin, userPin }),
    capabilities: ({ slotId, refresh }) => tokens.capabilities(slotId, refresh ?? false),
  };
}

export function keyHandlers(tokens: TokensService): Handlers<Contract>['keys'] {
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
        .finally(() =>
          ctx.events.emit('progress', { operationId: id, phase: 'done', fraction: 1, message: 'Done.' }),
        );
    },
    exportPublic: (req) => tokens.call('exportPublicKey', req),
    kcv: (req) => tokens.call('kcv', req),
    csr: (req) => tokens.call('createCsr', req),
    destroy: ({ slotId, id, class: cls }) =>
      tokens.call('destroyObject', { slotId, id, class: cls, confirm: true }),
  };
}
