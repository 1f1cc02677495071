import { CEREMONY_TEMPLATES, TEMPLATE_DESCRIPTIONS } from '../../shared/ceremony/script.std';
import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.nodejs';
import type { CeremonyService } from './ceremony-service.nodejs';

/** The `ceremony.*` channels: each maps to one call of the ceremony service. */
export function ceremonyHandlers(ceremonies: CeremonyService): Handlers<Contract>['ceremony'] {
  return {
    templates: () =>
      CEREMONY_TEMPLATES.map((template) => ({ template, description: TEMPLATE_DESCRIPTIONS[template] })),
    review: (params) => ceremonies.review(params),
    start: (request) => ceremonies.start(request),
    list: () => ceremonies.list(),
    status: ({ id }) => ceremonies.status(id),
    enroll: ({ id, ...who }) => ceremonies.enroll(id, who),
    act: ({ id, ...request }) => ceremonies.act(id, request),
    exception: ({ id, witness, text }) => ceremonies.exception(id, { witness, text }),
    signOff: ({ id, participant }) => ceremonies.signOff(id, participant),
    abort: ({ id, actor, reason }) => ceremonies.abort(id, { actor, reason }),
    transportKey: ({ id }) => ceremonies.transportKey(id),
    transcript: ({ id }) => ceremonies.transcript(id),
    verifyTranscript: ({ text, expectedSigner }) => {
      const { record, signer } = ceremonies.verify(text, expectedSigner);
      return {
        verified: true as const,
        ceremonyId: record.ceremony.id,
        template: record.ceremony.template,
        title: record.ceremony.title,
        state: record.ceremony.state,
        signer,
        entries: record.entries.length,
        participants: record.ceremony.participants.map((p) => ({ name: p.name, role: p.role })),
      };
    },
  };
}
