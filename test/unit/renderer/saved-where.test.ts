import { describe, expect, it } from 'vitest';
import { savedWhere } from '../../../renderer/src/ui/savedWhere.dom';

describe('where a downloaded file went, as the page can know it', () => {
  it('browser mode: the browser saved it in its downloads', () => {
    expect(savedWhere('audit.csv', false)).toBe('Saved as audit.csv in your downloads');
  });
  it('desktop app: the save dialog decides, so no place is claimed', () => {
    const text = savedWhere('audit.csv', true);
    expect(text).toContain('save dialog');
    expect(text).not.toMatch(/downloads|Saved as/);
  });
});
