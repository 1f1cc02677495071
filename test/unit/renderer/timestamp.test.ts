import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Timestamp } from '../../../renderer/src/ui/Timestamp.dom';

const html = (props: Parameters<typeof Timestamp>[0]) =>
  renderToStaticMarkup(createElement(Timestamp, props));

describe('a timestamp on screen', () => {
  it('is a <time> that carries the exact instant and reads in the local format', () => {
    const at = '2026-12-07T23:05:03.120Z';
    const local = new Date(at).toLocaleString();
    expect(html({ at })).toBe(
      `<time class="timestamp" dateTime="2026-12-07T23:05:03.120Z" title="2026-12-07T23:05:03.120Z">${local}</time>`,
    );
  });

  it('shows only the time of day when asked, from a number of milliseconds too', () => {
    const at = Date.parse('2026-12-07T09:05:03Z');
    expect(html({ at, part: 'time' })).toContain(`>${new Date(at).toLocaleTimeString()}</time>`);
  });

  it('shows an unreadable value as it came, never "Invalid Date", and outside a <time>', () => {
    expect(html({ at: 'not a date' })).toBe('not a date');
  });
});
