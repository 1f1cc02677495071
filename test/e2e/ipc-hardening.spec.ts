import { contract } from '../../shared/contract.std';
import { expect, test } from './fixtures';

/**
 * The renderer's only door is the contract. From inside the real page: the API object is frozen
 * and generic-invoke-free, every channel answers garbage with a typed VALIDATION error, and the
 * services keep running afterwards.
 */
test('window.mkm is one frozen, namespaced object with no generic invoke', async ({ app }) => {
  const shape = await app.evaluate(() => {
    const api = window.mkm as unknown as Record<string, unknown>;
    return {
      frozen: Object.isFrozen(api) && Object.values(api).every((g) => Object.isFrozen(g)),
      namespaces: Object.keys(api).sort(),
      hasInvoke: 'invoke' in api || 'ipcRenderer' in window || 'require' in window || 'process' in window,
    };
  });
  expect(shape.frozen).toBe(true);
  expect(shape.namespaces).toEqual([...Object.keys(contract), 'events'].sort());
  expect(shape.hasInvoke).toBe(false);
});

test('malformed arguments get typed errors and the services keep running', async ({ app }) => {
  const results = await app.evaluate(async () => {
    const api = window.mkm as unknown as Record<string, Record<string, (r?: unknown) => Promise<unknown>>>;
    const attempts: [string, string, unknown][] = [
      ['settings', 'update', { theme: 42 }],
      ['settings', 'update', { theme: 'neon' }],
      ['settings', 'update', { idleLogoutMinutes: -1 }],
      ['settings', 'update', { modulePath: 'x'.repeat(2_000_000) }],
      ['settings', 'update', JSON.parse('{"__proto__": {"polluted": true}}')],
      ['settings', 'update', { constructor: { prototype: { polluted: true } } }],
      ['settings', 'update', 'not an object'],
      ['app', 'openExternal', {}],
      ['app', 'openExternal', { url: 'javascript:alert(1)' }],
      ['app', 'openExternal', { url: 'file:///etc/passwd' }],
      ['app', 'status', { unexpected: true }],
      ['settings', 'get', [1, 2, 3]],
    ];
    const out: string[] = [];
    for (const [ns, m, arg] of attempts) {
      try {
        await api[ns]![m]!(arg);
        out.push(`${ns}.${m}: accepted`);
      } catch (e) {
        const err = e as { code?: string; message?: string };
        out.push(`${ns}.${m}: ${err.code ?? err.message}`);
      }
    }
    const status = (await api.app!.status!()) as { mode: string };
    return { out, mode: status.mode, polluted: ({} as Record<string, unknown>).polluted ?? null };
  });
  for (const line of results.out) expect(line).toMatch(/: VALIDATION$/);
  expect(results.mode).toBe('browser');
  expect(results.polluted).toBeNull();
});

test('a page from another origin cannot reach the services', async ({ app, server, browser }, testInfo) => {
  test.skip(testInfo.project.name === 'electron', 'browser mode only: Electron has no socket to reach');
  const origin = server!.origin;
  const foreign = await browser.newPage();
  await foreign.route('http://evil.test/**', (route) =>
    route.fulfill({ contentType: 'text/html', body: '<html><body>evil</body></html>' }),
  );
  await foreign.goto('http://evil.test/');
  const outcome = await foreign.evaluate(
    (wsUrl) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(wsUrl);
        ws.onopen = () => {
          ws.send(JSON.stringify({ t: 'call', id: 1, channel: 'app.status' }));
        };
        ws.onmessage = (e) => resolve(`message: ${String(e.data)}`);
        ws.onerror = () => resolve('refused');
        ws.onclose = () => resolve('closed');
      }),
    origin.replace('http', 'ws') + '/ipc',
  );
  expect(outcome).toBe('refused');
  await foreign.close();
  await expect(app.getByTestId('status-card')).toBeVisible();
});
