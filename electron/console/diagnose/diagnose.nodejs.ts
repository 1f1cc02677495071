import { randomUUID } from 'node:crypto';
import type { Diagnosis, DiagnosisSummary } from '../../../shared/contract/troubleshoot.std';
import type { DiagnoseDeps } from './environment.nodejs';
import { runDiagnosis } from './engine.nodejs';
import { buildEnvironment } from './environment.nodejs';

/**
 * The troubleshooter as the app runs it: the environment from the app's services, the engine,
 * and the last diagnoses (metadata only: codes, sizes) kept in the list the app composed
 * (`AppServices.diagnoses`), which `troubleshoot.recent` and the support bundle read. Nothing of
 * the input is kept.
 */

const KEEP = 20;

export function summarise(d: Diagnosis): DiagnosisSummary {
  return {
    id: d.id,
    at: d.at,
    kind: d.kind,
    input: d.input,
    profileId: d.profileId,
    codes: d.findings.map((f) => f.code),
    worst: d.findings[0]?.severity ?? null,
  };
}

export async function diagnose(
  services: DiagnoseDeps,
  request: { input: string; profileId?: string | undefined; slotId?: number | undefined },
): Promise<Diagnosis> {
  const env = await buildEnvironment(services, request);
  const result = await runDiagnosis(request.input, env);
  const diagnosis: Diagnosis = {
    id: randomUUID(),
    at: new Date().toISOString(),
    kind: result.kind,
    // The length only: a digest of a pasted card number, even 32 bits of one, would be a search key.
    input: { chars: request.input.length },
    profileId: env.target?.id ?? null,
    slotId: env.token?.slotId ?? null,
    findings: result.findings,
    skipped: result.skipped,
  };
  // Each verify call decrypts at the gateway: the trail says who asked how often, under which profile.
  if (env.gateway && env.gateway.calls > 0) {
    services.audit.record({
      action: 'console.diagnose.oracle',
      result: 'ok',
      details: { profileId: env.target?.id ?? null, verifyCalls: env.gateway.calls },
    });
  }
  const history = services.diagnoses;
  history.unshift(summarise(diagnosis));
  history.length = Math.min(history.length, KEEP);
  services.logger.info('payload diagnosed', {
    kind: diagnosis.kind,
    codes: diagnosis.findings.map((f) => f.code),
    profileId: diagnosis.profileId,
  });
  return diagnosis;
}
