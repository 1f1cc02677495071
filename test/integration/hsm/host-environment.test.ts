import { describe, expect, it } from 'vitest';
import { createNodeHostSpawner } from '../../../electron/hsm/node-spawner.nodejs';
import { hostEnvironment } from '../../../electron/hsm/spawner.std';

describe("the HSM host's environment", () => {
  it('keeps what vendor libraries read and drops the CA bundle Node would parse at every start', () => {
    const env = { SOFTHSM2_CONF: '/t/softhsm2.conf', PATH: '/usr/bin', NODE_EXTRA_CA_CERTS: '/etc/ca.pem' };
    expect(hostEnvironment(env)).toEqual({ SOFTHSM2_CONF: '/t/softhsm2.conf', PATH: '/usr/bin' });
    expect(env.NODE_EXTRA_CA_CERTS).toBe('/etc/ca.pem');
  });

  // Node warns on stderr at start when NODE_EXTRA_CA_CERTS names a file it cannot load, before
  // any code of the host runs: a host that got the variable leaves that line in its output.
  it('is what a forked host really starts with', async () => {
    const handle = createNodeHostSpawner({
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/mkm-test-ca.pem' },
    }).spawn();
    const exited = new Promise<void>((resolve) => handle.onExit(() => resolve()));
    const ready = await new Promise<unknown>((resolve) => handle.onMessage(resolve));
    expect(ready).toMatchObject({ t: 'event', name: 'ready' });
    handle.kill();
    // The exit is reported once stdout and stderr are drained: every line the host printed is in.
    await exited;
    expect(handle.recentOutput?.().join('\n')).not.toMatch(/extra certs/i);
  });
});
