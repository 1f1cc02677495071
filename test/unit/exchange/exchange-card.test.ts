import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ExchangeCard } from '../../../renderer/src/gateway/ExchangeCard.dom';
import { TokenProvider } from '../../../renderer/src/tokens/TokenContext.dom';

/**
 * The Offline exchange card rendered once on its own (server-side, no app behind it; queries do
 * not run there): it mounts without a logged-in token, every input has a label, and nothing can
 * be imported before a package was checked.
 */
function render(): string {
  const client = new QueryClient();
  return renderToStaticMarkup(
    createElement(
      QueryClientProvider,
      { client },
      createElement(TokenProvider, null, createElement(ExchangeCard, { profileId: 'sandbox' })),
    ),
  );
}

describe('ExchangeCard', () => {
  const html = render();

  it('offers to check a package and to import it only after a check', () => {
    expect(html).toContain('Offline exchange');
    expect(html).toMatch(/<button type="button" disabled="">Check package<\/button>/);
    expect(html).toMatch(
      /<button type="button" class="primary" disabled=""[^>]*>Import into sandbox…<\/button>/,
    );
  });

  it('asks for a login before a package can be made', () => {
    expect(html).toContain('Log in to the token that holds the signing key');
  });

  it('labels every input', () => {
    const inputs = [...html.matchAll(/<input[^>]*id="([^"]+)"/g)].map((m) => m[1]);
    expect(inputs.length).toBeGreaterThanOrEqual(4);
    for (const id of inputs) expect(html).toContain(`for="${id}"`);
  });
});
