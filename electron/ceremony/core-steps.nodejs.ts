import { PreflightInputSchema } from '../../shared/ceremony/script.std';
import { MkmError } from '../../shared/errors.std';
import type { StepExecutor } from './ceremony-service.nodejs';
import { checkAirGap, type InterfaceView } from './preflight.nodejs';

const PreflightInput = PreflightInputSchema.optional();

export interface CoreStepPorts {
  /** Up interfaces other than loopback, now. */
  interfaces(): InterfaceView[];
  /** The token's serial, model and firmware as it answers now. */
  token(slotId: number): Promise<{ serial: string; model: string; firmware: string }>;
  /** The check values of keys the ceremony will use (by key id), as the token computes them. */
  kcvs(slotId: number, keyIds: string[]): Promise<Record<string, string>>;
}

/** Key ids a script's parameters name (keys the ceremony uses rather than makes). */
function keysUsed(params: Record<string, unknown>): string[] {
  return ['keyId', 'kbpkId'].map((k) => params[k]).filter((v): v is string => typeof v === 'string');
}

/**
 * The steps that are about the room rather than the key: the preflight (network, token, the
 * keys to be used) and the identification (the service checks every role is there).
 */
export function coreSteps(ports: CoreStepPorts): { preflight: StepExecutor; identify: StepExecutor } {
  return {
    preflight: async (ctx) => {
      const parsed = PreflightInput.safeParse(ctx.input);
      if (!parsed.success)
        throw new MkmError('VALIDATION', 'The override needs a reason of 8 characters or more.', {
          field: 'override',
        });
      const report = checkAirGap(ports.interfaces(), parsed.data?.override ?? null);
      const token = await ports.token(ctx.slotId);
      const announced = ctx.journal.header.token;
      if (token.serial !== announced.serial) {
        throw new MkmError(
          'TOKEN_REMOVED',
          'This is not the token the ceremony started with: put that one back.',
          {
            expected: announced.serial,
            found: token.serial,
          },
        );
      }
      const used = keysUsed(ctx.journal.header.script.params as Record<string, unknown>);
      const kcvs = used.length ? await ports.kcvs(ctx.slotId, used) : {};
      return {
        appBuildHash: ctx.journal.header.app.buildHash,
        tokenSerial: token.serial,
        tokenModel: token.model,
        tokenFirmware: token.firmware,
        network: report.network.ok ? 'loopback only' : report.network.connected.map((i) => i.name),
        override: parsed.data?.override?.reason ?? null,
        ...Object.fromEntries(Object.entries(kcvs).map(([id, kcv]) => [`kcv:${id}`, kcv])),
      };
    },
    identify: async (ctx) => ({
      participants: ctx.journal.participants.length,
      custodians: ctx.journal.participants.filter((p) => p.role === 'custodian').length,
    }),
  };
}
