import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { GenerateKeyParams, GenerateKeyResult } from '../../../shared/tokens.std';
import { mkm } from '../api.dom';

export interface Running {
  operationId: string;
  params: GenerateKeyParams;
  startedAt: number;
}

/**
 * One key generation at a time, owned by the Keys screen rather than the dialog, so closing the
 * dialog does not lose it. Progress comes from the main process's `progress` events for this
 * operation; the elapsed time ticks here so it moves even between events.
 */
export function useGeneration(onDone: (result: GenerateKeyResult) => void) {
  const queryClient = useQueryClient();
  const [running, setRunning] = useState<Running | null>(null);
  const [message, setMessage] = useState<string>('');
  const [now, setNow] = useState(0);

  const mutation = useMutation({
    mutationFn: (run: Running) => mkm().keys.generate({ ...run.params, operationId: run.operationId }),
    onSuccess: async (result, run) => {
      await queryClient.invalidateQueries({ queryKey: ['keys', 'list', run.params.slotId] });
      onDone(result);
    },
    onSettled: () => setRunning(null),
  });

  useEffect(() => {
    if (!running) return;
    const off = mkm().events.on('progress', (p) => {
      if (p.operationId === running.operationId) setMessage(p.message);
    });
    const timer = window.setInterval(() => setNow(Date.now()), 250);
    return () => {
      off();
      window.clearInterval(timer);
    };
  }, [running]);

  const start = (params: GenerateKeyParams) => {
    const run: Running = { operationId: crypto.randomUUID(), params, startedAt: Date.now() };
    setMessage('Starting…');
    setNow(run.startedAt);
    setRunning(run);
    mutation.mutate(run);
  };

  const elapsedSeconds = running ? Math.max(0, Math.floor((now - running.startedAt) / 1000)) : 0;
  return {
    start,
    running,
    message,
    elapsedSeconds,
    error: mutation.error,
    reset: mutation.reset,
    lastResult: mutation.data,
  };
}
