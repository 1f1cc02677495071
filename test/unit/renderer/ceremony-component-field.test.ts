import { describe, expect, it } from 'vitest';
import {
  componentFieldReducer,
  describeTyping,
  initialComponentField,
  regroup,
  type ComponentFieldEvent,
  type ComponentFieldState,
} from '../../../renderer/src/ceremony/componentField.dom';
import { componentChecksum } from '../../../shared/formats/component-entry.std';

// The known TDES key of issue 11: every byte of odd parity.
const TDES = '0123456789ABCDEFFEDCBA9876543210';
const hexBytes = (hex: string) => Uint8Array.from(hex.match(/../g)!, (h) => Number.parseInt(h, 16));

function run(events: ComponentFieldEvent[]): ComponentFieldState {
  const reduce = componentFieldReducer('tdes-2key');
  return events.reduce(reduce, initialComponentField('tdes-2key'));
}

describe('the component field: what the page may know of what a custodian types', () => {
  it('counts digits while typing, and shows no checksum before the component is complete', () => {
    const typed = describeTyping('0123 4567', 'tdes-2key', 1);
    expect(typed).toEqual({ type: 'typed', digits: 8, checksum: null, problem: null });
  });

  it('gives the typo checksum of a complete component, the same as the sheet’s', () => {
    const typed = describeTyping(TDES.toLowerCase(), 'tdes-2key', 1);
    expect(typed.problem).toBeNull();
    expect(typed.checksum).toBe(componentChecksum(hexBytes(TDES)));
  });

  it('names a TDES parity problem by byte and digits before anything is sent, never the digits typed', () => {
    const typed = describeTyping(TDES.slice(0, -1) + '1', 'tdes-2key', 1);
    expect(typed.problem?.code).toBe('COMPONENT_PARITY_INVALID');
    expect(typed.problem?.message).toContain('byte 16 (digits 31 and 32)');
    expect(typed.problem?.message).not.toMatch(/3211|0123/);
    // A component refused for parity cannot be submitted.
    expect(run([typed, { type: 'submitted' }]).phase).toBe('typing');
  });

  it('names a character that is not hex by position, and too many digits once typed', () => {
    expect(describeTyping('01x3', 'tdes-2key', 2).problem?.message).toContain('position 3');
    expect(describeTyping(TDES + '01', 'tdes-2key', 2).problem?.code).toBe('COMPONENT_LENGTH_INVALID');
  });

  it('goes typing → sending → check-kcv → cleared, holding no digit and no checksum after submit', () => {
    const typed = describeTyping(TDES, 'tdes-2key', 1);
    const sending = run([typed, { type: 'submitted' }]);
    expect(sending).toEqual({ phase: 'sending' });
    const kcvs: [string, string][] = [['kcv', '08D7B4']];
    const checking = run([typed, { type: 'submitted' }, { type: 'accepted', kcvs }]);
    expect(checking).toEqual({ phase: 'check-kcv', kcvs });
    expect(JSON.stringify(checking)).not.toContain(typed.checksum!);
    // Confirming the check value returns the field to its first state, for the next custodian.
    const next = run([typed, { type: 'submitted' }, { type: 'accepted', kcvs }, { type: 'confirmed' }]);
    expect(next).toEqual(initialComponentField('tdes-2key'));
  });

  it('a refused or lost submission clears the field: it is typed again', () => {
    const typed = describeTyping(TDES, 'tdes-2key', 1);
    expect(run([typed, { type: 'submitted' }, { type: 'failed' }])).toEqual(
      initialComponentField('tdes-2key'),
    );
  });

  it('ignores a late result and typing while the component is on its way', () => {
    const typed = describeTyping(TDES, 'tdes-2key', 1);
    expect(run([typed, { type: 'accepted', kcvs: [] }]).phase).toBe('typing');
    expect(run([typed, { type: 'submitted' }, typed])).toEqual({ phase: 'sending' });
  });

  it('regroups hex by four as the sheet prints it, and leaves other text alone for its position', () => {
    expect(regroup('0123456789abcdef')).toBe('0123 4567 89AB CDEF');
    expect(regroup('01-23 45 6789')).toBe('0123 4567 89');
    expect(regroup('01x3 4567')).toBe('01x3 4567');
  });
});
