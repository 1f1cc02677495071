import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { EnvelopePart } from '../../../shared/contract/console.std';
import { mkm } from '../api.dom';
import { useCapabilityBlock } from '../tokens/capabilityGate.dom';
import { useTokens } from '../tokens/TokenContext.dom';
import { Badge, CopyButton, Facts } from '../ui/bits.dom';
import {
  ConsoleError,
  consoleKeys,
  ProfileGate,
  ProfileSelect,
  useProfiles,
  useProfileState,
} from './console-state.dom';

/**
 * Key-rolling message: seal a message with the profile's current key set inside the token
 * (AES-256-CBC + HMAC-SHA256), see each part of the envelope and what it is for, and open an
 * envelope again with the same set.
 */
export function MessagePanel() {
  const profiles = useProfiles();
  const keyRolling = profiles.list.filter((p) => p.keyRolling);
  const chosen = profiles.chosen?.keyRolling ? profiles.chosen : (keyRolling[0] ?? null);
  const profileState = useProfileState(chosen?.id ?? null);
  const [text, setText] = useState('{"ping":true}');
  const [ivSource, setIvSource] = useState<'token' | 'set'>('token');
  const [envelopeText, setEnvelopeText] = useState('');
  const queryClient = useQueryClient();
  const { activeSlot } = useTokens();
  const blocked = useCapabilityBlock(activeSlot?.slotId ?? null, 'console-message');

  const seal = useMutation({
    mutationFn: () => mkm().console.encryptMessage({ profileId: chosen!.id, text, ivSource }),
    onSuccess: (r) => setEnvelopeText(JSON.stringify(r.envelope, null, 2)),
    onSettled: () =>
      void queryClient.invalidateQueries({ queryKey: consoleKeys.profileState(chosen?.id ?? '') }),
  });
  const open = useMutation({
    mutationFn: async () => {
      let envelope: unknown;
      try {
        envelope = JSON.parse(envelopeText);
      } catch {
        throw new Error('The envelope must be JSON: {"set_id", "iv", "ciphertext", "mac"}.');
      }
      return mkm().console.decryptMessage({
        profileId: chosen!.id,
        envelope: envelope as { set_id: string; iv?: string; ciphertext: string; mac: string },
      });
    },
  });

  return (
    <ProfileGate profiles={profiles}>
      {chosen === null ? (
        <div className="empty" role="status">
          No profile uses key-rolling messages. Add one with key rolling under <strong>Gateway</strong> and
          register a transport key.
        </div>
      ) : (
        <div className="stack console-panel">
          <ProfileSelect id="message-profile" list={keyRolling} chosen={chosen} onChoose={profiles.choose} />
          <p className="muted small">
            Current key set:{' '}
            {profileState.data?.currentSet ? (
              <code className="code-chip">{profileState.data.currentSet.setId}</code>
            ) : (
              'none yet (one is asked for when you seal)'
            )}
            . A set&apos;s keys were unwrapped into the token and never leave it.
          </p>
          <form
            className="stack"
            aria-label="Seal a message"
            onSubmit={(e) => {
              e.preventDefault();
              open.reset();
              seal.mutate();
            }}
          >
            <div className="field">
              <label htmlFor="message-text">Message (UTF-8, usually the JSON request body)</label>
              <textarea
                id="message-text"
                rows={4}
                value={text}
                spellCheck={false}
                onChange={(e) => setText(e.target.value)}
              />
            </div>
            <fieldset className="field">
              <legend>IV</legend>
              <label className="check">
                <input
                  type="radio"
                  name="iv-source"
                  checked={ivSource === 'token'}
                  onChange={() => setIvSource('token')}
                />
                Fresh from the token&apos;s random generator (safe to repeat)
              </label>
              <label className="check">
                <input
                  type="radio"
                  name="iv-source"
                  checked={ivSource === 'set'}
                  onChange={() => setIvSource('set')}
                />
                The set&apos;s own IV (exactly the request the gateway expects; spends the set)
              </label>
            </fieldset>
            <div className="button-row">
              <button
                type="submit"
                className="primary"
                disabled={seal.isPending || text === '' || blocked !== null}
                title={blocked?.message}
              >
                {seal.isPending ? 'Sealing…' : 'Encrypt in the token'}
              </button>
            </div>
            {blocked && (
              <p className="notice notice-warn small" data-testid="capability-blocked">
                {blocked.message} <code className="code-chip">CAPABILITY_MISSING</code>
              </p>
            )}
          </form>
          {seal.isError && <ConsoleError error={seal.error} />}
          {seal.data && (
            <section className="card stack" aria-label="Envelope">
              <div className="section-head">
                <h3 className="card-title">Envelope</h3>
                <span className="push-right">
                  <CopyButton text={JSON.stringify(seal.data.envelope)} label="Copy envelope" />
                </span>
              </div>
              <Facts
                rows={[
                  ['Set', seal.data.setId],
                  ['Wrapped under', seal.data.wrappingKeyId],
                  ['Expires', new Date(seal.data.expiresAt).toLocaleString()],
                  ['Message', `${seal.data.plaintextBytes} bytes`],
                ]}
              />
              <PartsTable parts={seal.data.parts} />
              {seal.data.notes.map((n) => (
                <p key={n} className="muted small">
                  {n}
                </p>
              ))}
            </section>
          )}

          <form
            className="stack"
            aria-label="Open an envelope"
            onSubmit={(e) => {
              e.preventDefault();
              open.mutate();
            }}
          >
            <div className="field">
              <label htmlFor="message-envelope">Envelope to open (JSON)</label>
              <textarea
                id="message-envelope"
                rows={6}
                className="mono"
                value={envelopeText}
                spellCheck={false}
                onChange={(e) => setEnvelopeText(e.target.value)}
              />
            </div>
            <div className="button-row">
              <button type="submit" disabled={open.isPending || envelopeText.trim() === ''}>
                {open.isPending ? 'Opening…' : 'Check MAC and decrypt'}
              </button>
            </div>
          </form>
          {open.isError && <ConsoleError error={open.error} />}
          {open.data && (
            <section className="card stack" aria-label="Decrypted message">
              <p>
                <Badge tone="ok">MAC ok</Badge> under set <code className="code-chip">{open.data.setId}</code>
                {open.data.json && ' — valid JSON'}
              </p>
              <pre className="mono-block" data-testid="message-clear">
                {open.data.text}
              </pre>
            </section>
          )}
        </div>
      )}
    </ProfileGate>
  );
}

function PartsTable({ parts }: { parts: EnvelopePart[] }) {
  return (
    <table className="table console-parts">
      <thead>
        <tr>
          <th scope="col">Part</th>
          <th scope="col">Value</th>
          <th scope="col">Bytes</th>
          <th scope="col">What it is</th>
        </tr>
      </thead>
      <tbody>
        {parts.map((p) => (
          <tr key={p.name}>
            <th scope="row">
              <code>{p.name}</code>
            </th>
            <td>
              <code className="break">{p.value}</code>
            </td>
            <td>{p.bytes}</td>
            <td className="small">{p.explanation}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
