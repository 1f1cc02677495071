import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import type { CeremonyView } from '../../../shared/contract/ceremony.std';
import { mkm } from '../api.dom';
import { Badge, ErrorNotice, Loading } from '../ui/bits.dom';
import { CeremonyRun } from './CeremonyRun.dom';
import { currentStep } from './ceremonyModel.dom';
import { StartCeremony } from './StartCeremony.dom';
import { VerifyTranscript } from './Transcript.dom';
import './ceremony.css';
import { Timestamp } from '../ui/Timestamp.dom';

export const ceremonyKeys = {
  list: ['ceremony', 'list'] as const,
  status: (id: string) => ['ceremony', 'status', id] as const,
};

const STATE_TONES = { running: 'info', completed: 'ok', aborted: 'danger' } as const;

/**
 * Offline key ceremonies (issue 11): the ceremonies on this machine, a new one from a template,
 * and the one open, run at this machine by its administrator, witness and custodians in turn.
 */
export function CeremonyScreen() {
  const [openId, setOpenId] = useState<string | null>(null);
  const list = useQuery({ queryKey: ceremonyKeys.list, queryFn: () => mkm().ceremony.list() });

  if (openId) {
    return <CeremonyRun id={openId} onClose={() => setOpenId(null)} />;
  }
  return (
    <div className="stack">
      <section className="card" aria-labelledby="ceremony-list-title">
        <h2 id="ceremony-list-title" className="card-title">
          Ceremonies on this machine
        </h2>
        {list.isPending && <Loading />}
        {list.error && <ErrorNotice error={list.error} onRetry={() => void list.refetch()} />}
        {list.data && list.data.length === 0 && (
          <p className="empty">No ceremony yet. Start one below from a template.</p>
        )}
        {list.data && list.data.length > 0 && <CeremonyList ceremonies={list.data} onOpen={setOpenId} />}
      </section>
      <StartCeremony onStarted={setOpenId} />
      <VerifyTranscript />
    </div>
  );
}

function CeremonyList({ ceremonies, onOpen }: { ceremonies: CeremonyView[]; onOpen: (id: string) => void }) {
  return (
    <table className="table" aria-label="Ceremonies">
      <thead>
        <tr>
          <th scope="col">Ceremony</th>
          <th scope="col">State</th>
          <th scope="col">Where it stands</th>
          <th scope="col">Started</th>
          <th scope="col">
            <span className="sr-only">Action</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {ceremonies.map((c) => {
          const step = currentStep(c);
          const done = c.steps.filter((s) => s.done).length;
          return (
            <tr key={c.id}>
              <td>{c.title}</td>
              <td>
                <Badge tone={STATE_TONES[c.state]}>{c.state}</Badge>
              </td>
              <td>
                {step
                  ? `${done} of ${c.steps.length} steps done; next: ${step.title}`
                  : `${done} of ${c.steps.length} steps done`}
              </td>
              <td>
                <Timestamp at={c.startedAt} />
              </td>
              <td>
                <button
                  type="button"
                  onClick={() => onOpen(c.id)}
                  aria-label={`${c.state === 'running' ? 'Resume' : 'Open'} ${c.title}`}
                >
                  {c.state === 'running' ? 'Resume' : 'Open'}
                </button>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
