import * as Tabs from '@radix-ui/react-tabs';
import { BatchPanel } from './BatchPanel.dom';
import { ComposePanel } from './ComposePanel.dom';
import { MessagePanel } from './MessagePanel.dom';
import { RoundTripPanel } from './RoundTripPanel.dom';
import { SupportPanel } from './SupportPanel.dom';
import { TroubleshootPanel } from './TroubleshootPanel.dom';

/**
 * The payload test console: one tab per task. Panels stay mounted so what was typed or is
 * running survives switching tabs; nothing typed here is stored.
 */
const TABS = [
  { id: 'compose', label: 'Compose & encrypt', Panel: ComposePanel },
  { id: 'message', label: 'Key-rolling message', Panel: MessagePanel },
  { id: 'roundtrip', label: 'Round trip', Panel: RoundTripPanel },
  { id: 'troubleshoot', label: 'Troubleshoot', Panel: TroubleshootPanel },
  { id: 'batch', label: 'Batch', Panel: BatchPanel },
  { id: 'support', label: 'Support bundle', Panel: SupportPanel },
] as const;

export function ConsoleScreen() {
  return (
    <Tabs.Root defaultValue="compose" className="console">
      <Tabs.List aria-label="Console tasks" className="tab-list">
        {TABS.map((t) => (
          <Tabs.Trigger key={t.id} value={t.id} className="tab">
            {t.label}
          </Tabs.Trigger>
        ))}
      </Tabs.List>
      {TABS.map(({ id, Panel }) => (
        <Tabs.Content key={id} value={id} forceMount className="tab-panel" tabIndex={-1}>
          <Panel />
        </Tabs.Content>
      ))}
    </Tabs.Root>
  );
}
