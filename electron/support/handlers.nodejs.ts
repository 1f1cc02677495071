import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.nodejs';
import type { SupportService } from './support-service.nodejs';

/** The `support.*` channels. */
export function supportHandlers(support: SupportService): Handlers<Contract>['support'] {
  return {
    preview: () => support.preview(),
    write: ({ outPath, overwrite }, ctx) => support.write({ outPath, overwrite }, ctx.sender),
  };
}
