import * as Dialog from '@radix-ui/react-dialog';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import type { GatewayProfileView } from '../../../shared/contract.std';
import { GATEWAY_CSE_PADDINGS } from '../../../shared/contract/gateway.std';
import { mkm } from '../api.dom';
import { DialogActions, DialogContent, ErrorNotice, PinField, takePin } from '../ui/bits.dom';
import { gatewayKeys } from './format.dom';

type Padding = (typeof GATEWAY_CSE_PADDINGS)[number];
const PADDING_NAMES: Record<Padding, string> = {
  'RSAES-OAEP-SHA256': 'RSA-OAEP with SHA-256 (preferred)',
  'RSAES-PKCS1-V1_5': 'RSA PKCS#1 v1.5 (PayTrace compatible)',
};

/**
 * A new gateway profile. The password goes to main after the profile exists and is kept there
 * for the session (never in the profile file); the TLS pin is the SHA-256 of the gateway's
 * TLS public key as the gateway operator (or `npm run sandbox`) prints it.
 */
export function AddProfileDialog({ onAdded }: { onAdded: (profile: GatewayProfileView) => void }) {
  const ids = useId();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [baseUrl, setBaseUrl] = useState('https://');
  const [username, setUsername] = useState('');
  const [pin, setPin] = useState('');
  const [cse, setCse] = useState(true);
  const [padding, setPadding] = useState<Padding>('RSAES-OAEP-SHA256');
  const [keyRolling, setKeyRolling] = useState(true);
  const [problem, setProblem] = useState<string | null>(null);

  const add = useMutation({
    mutationFn: async (password: string) => {
      const profile = await mkm().gateway.addProfile({
        name: name.trim(),
        baseUrl: baseUrl.trim(),
        username: username.trim(),
        ...(pin.trim() ? { tlsPinSha256: pin.trim().replace(/[\s:]/g, '').toLowerCase() } : {}),
        ...(cse ? { cse: padding } : {}),
        ...(keyRolling ? { keyRolling: true } : {}),
      });
      if (password) await mkm().gateway.setPassword({ profileId: profile.id, password });
      return profile;
    },
    // A profile added before its password was refused is still there: list it either way.
    onSettled: () => void queryClient.invalidateQueries({ queryKey: gatewayKeys.all }),
    onSuccess: (profile) => {
      setOpen(false);
      onAdded(profile);
    },
  });

  const reset = () => {
    add.reset();
    setProblem(null);
    setName('');
    setBaseUrl('https://');
    setUsername('');
    setPin('');
    setCse(true);
    setKeyRolling(true);
  };

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const cleanPin = pin.trim().replace(/[\s:]/g, '');
    if (!cse && !keyRolling) return setProblem('Choose at least one scheme.');
    if (!/^https:\/\/[^\s]+$/.test(baseUrl.trim()))
      return setProblem('The base URL must start with https://.');
    if (cleanPin && !/^[0-9a-fA-F]{64}$/.test(cleanPin)) {
      return setProblem('The TLS pin is 64 hex digits (SHA-256), or leave it empty.');
    }
    setProblem(null);
    add.mutate(takePin(e.currentTarget, 'new-gateway-password'));
  };

  return (
    <Dialog.Root
      open={open}
      onOpenChange={(next) => {
        if (add.isPending) return;
        setOpen(next);
        if (!next) reset();
      }}
    >
      <Dialog.Trigger asChild>
        <button type="button" className="primary">
          Add profile…
        </button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="overlay" />
        <DialogContent className="dialog" aria-describedby={`${ids}-about`}>
          <form onSubmit={submit} aria-busy={add.isPending}>
            <Dialog.Title className="dialog-title">Add a gateway profile</Dialog.Title>
            <p id={`${ids}-about`} className="muted">
              The profile file holds no password: it is kept in memory for this session (or encrypted by the
              operating system in the desktop app).
            </p>
            <fieldset className="plain" disabled={add.isPending}>
              <div className="field">
                <label htmlFor={`${ids}-name`}>Name</label>
                <input
                  id={`${ids}-name`}
                  required
                  maxLength={128}
                  value={name}
                  onChange={(e) => setName(e.target.value)}
                />
              </div>
              <div className="field">
                <label htmlFor={`${ids}-url`}>Base URL</label>
                <input
                  id={`${ids}-url`}
                  required
                  maxLength={2048}
                  inputMode="url"
                  spellCheck={false}
                  value={baseUrl}
                  onChange={(e) => setBaseUrl(e.target.value)}
                />
              </div>
              <div className="field">
                <label htmlFor={`${ids}-user`}>User</label>
                <input
                  id={`${ids}-user`}
                  required
                  maxLength={256}
                  autoComplete="off"
                  spellCheck={false}
                  value={username}
                  onChange={(e) => setUsername(e.target.value)}
                />
              </div>
              <PinField name="new-gateway-password" label="Password" />
              <div className="field">
                <label htmlFor={`${ids}-pin`}>TLS pin (SHA-256 of the gateway’s TLS public key, hex)</label>
                <input
                  id={`${ids}-pin`}
                  className="mono"
                  maxLength={100}
                  spellCheck={false}
                  aria-describedby={`${ids}-pin-help`}
                  value={pin}
                  onChange={(e) => setPin(e.target.value)}
                />
                <span id={`${ids}-pin-help`} className="muted small">
                  Strongly advised: without it the gateway’s certificate must chain to a trusted authority.
                </span>
              </div>
              <fieldset className="purposes">
                <legend>Schemes</legend>
                <label className="check">
                  <input type="checkbox" checked={cse} onChange={(e) => setCse(e.target.checked)} />
                  <span>Client-side encryption with the gateway’s public key (PEM)</span>
                </label>
                {cse && (
                  <div className="field">
                    <label htmlFor={`${ids}-padding`}>Padding</label>
                    <select
                      id={`${ids}-padding`}
                      value={padding}
                      onChange={(e) => setPadding(e.target.value as Padding)}
                    >
                      {GATEWAY_CSE_PADDINGS.map((p) => (
                        <option key={p} value={p}>
                          {PADDING_NAMES[p]}
                        </option>
                      ))}
                    </select>
                  </div>
                )}
                <label className="check">
                  <input
                    type="checkbox"
                    checked={keyRolling}
                    onChange={(e) => setKeyRolling(e.target.checked)}
                  />
                  <span>
                    Key-rolling secure messages (AES key sets wrapped under the token’s transport key)
                  </span>
                </label>
              </fieldset>
            </fieldset>
            {problem && (
              <p role="alert" className="notice notice-error">
                {problem}
              </p>
            )}
            {add.error && <ErrorNotice error={add.error} />}
            <DialogActions
              kind="dialog"
              pending={add.isPending}
              action={{ label: 'Add profile', pendingLabel: 'Adding…', tone: 'primary', type: 'submit' }}
            />
          </form>
        </DialogContent>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
