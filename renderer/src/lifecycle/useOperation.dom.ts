import { useEffect, useState } from 'react';
import { mkm } from '../api.dom';

export interface ProgressStep {
  phase: string;
  message: string;
  fraction: number | null;
}

/**
 * The `progress` events of one lifecycle operation (a rotation, or the replacement after a
 * compromise), by the operation id the renderer chose and passed with the call.
 */
export function useOperationProgress(operationId: string | null): ProgressStep[] {
  const [seen, setSeen] = useState<{ id: string | null; steps: ProgressStep[] }>({ id: null, steps: [] });
  useEffect(() => {
    if (!operationId) return;
    return mkm().events.on('progress', (p) => {
      if (p.operationId !== operationId) return;
      const step = { phase: p.phase, message: p.message, fraction: p.fraction };
      setSeen((s) =>
        s.id === operationId ? { id: s.id, steps: [...s.steps, step] } : { id: operationId, steps: [step] },
      );
    });
  }, [operationId]);
  // Steps of an earlier operation are not this one's.
  return seen.id === operationId ? seen.steps : [];
}
