import type { ProgressStep } from './useOperation.dom';

/** The visible steps of a rotation (see ROTATION_PROGRESS_STEPS in the key lifecycle). */
export function rotationSteps(needsGateway: boolean): { phase: string; label: string }[] {
  return [
    { phase: 'planned', label: 'Plan the new version (journaled)' },
    { phase: 'generating', label: 'Generate it on the token' },
    ...(needsGateway ? [{ phase: 'registering', label: 'Register it with the gateway' }] : []),
    { phase: 'promoting', label: 'Make it the primary' },
    { phase: 'done', label: 'Done' },
  ];
}

/** An ordered checklist: done steps ticked, the current one announced to screen readers. */
export function ProgressSteps({
  steps,
  seen,
  failed,
}: {
  steps: { phase: string; label: string }[];
  seen: ProgressStep[];
  failed: boolean;
}) {
  const reached = new Set(seen.map((s) => s.phase));
  const last = seen.at(-1);
  // A step is done once a later one started (a skipped step counts as done), current while it
  // is the last one reached.
  const lastReached = steps.reduce((max, s, i) => (reached.has(s.phase) ? i : max), -1);
  const stateOf = (i: number): 'done' | 'current' | 'failed' | 'todo' => {
    if (i < lastReached || (i === lastReached && steps[i]!.phase === 'done')) return 'done';
    if (i === Math.max(lastReached, 0)) return failed ? 'failed' : i === lastReached ? 'current' : 'todo';
    return 'todo';
  };
  return (
    <>
      <ol className="lc-steps" aria-label="Rotation progress" data-testid="rotation-progress">
        {steps.map((s, i) => {
          const state = stateOf(i);
          const current = state === 'current';
          return (
            <li
              key={s.phase}
              className={`lc-step lc-step-${state}`}
              aria-current={current ? 'step' : undefined}
            >
              <span className="lc-step-mark" aria-hidden="true">
                {state === 'done' ? '✓' : state === 'failed' ? '✕' : state === 'current' ? '…' : '○'}
              </span>
              {s.label}
              <span className="sr-only"> ({state})</span>
            </li>
          );
        })}
      </ol>
      <p className="muted small" role="status" aria-live="polite">
        {last?.message ?? 'Starting…'}
      </p>
    </>
  );
}
