import { describe, expect, it } from 'vitest';
import { parseSandboxArgs } from '../../../electron/gateway/sandbox/args.nodejs';

describe('parseSandboxArgs', () => {
  it('reads the documented options, in both --flag value and --flag=value form', () => {
    const r = parseSandboxArgs([
      '--port=8443',
      '--data-dir',
      '/tmp/x',
      '--user',
      'alice:pa:ss',
      '--user',
      'bob:b',
      '--set-ttl',
      '60',
      '--verify-rate-limit',
      '5/10',
      '--padding',
      'pkcs1',
    ]);
    expect(r).toEqual({
      help: false,
      options: {
        port: 8443,
        dataDir: '/tmp/x',
        users: [
          { name: 'alice', password: 'pa:ss' },
          { name: 'bob', password: 'b' },
        ],
        setTtlSeconds: 60,
        verifyRateLimit: { max: 5, windowSeconds: 10 },
        publicKeyPadding: 'RSAES-PKCS1-V1_5',
      },
    });
  });

  it('gives an empty user list when no --user is given (the server then ensures demo:demo)', () => {
    const r = parseSandboxArgs(['--port', '0', '--data-dir', 'd']);
    expect(r.help === false && r.options.users).toEqual([]);
  });

  it.each([
    [['--data-dir', 'd'], /--port is required/],
    [['--port', '0'], /--data-dir is required/],
    [['--port', '70000', '--data-dir', 'd'], /between 0 and 65535/],
    [['--port', '-1', '--data-dir', 'd'], /needs a value|whole number/],
    [['--port', '0', '--data-dir', 'd', '--set-ttl', '0'], /between 1/],
    [['--port', '0', '--data-dir', 'd', '--user', ':pw'], /NAME:PASSWORD/],
    [['--port', '0', '--data-dir', 'd', '--user', 'a:'], /NAME:PASSWORD/],
    [['--port', '0', '--data-dir', 'd', '--user', 'a b:c'], /name may use/],
    [['--port', '0', '--data-dir', 'd', '--user', 'a:1', '--user', 'a:2'], /twice/],
    [['--port', '0', '--data-dir', 'd', '--padding', 'none'], /pkcs1 or oaep/],
    [['--port', '0', '--data-dir', 'd', 'extra'], /unexpected argument/],
    [['--port', '0', '--data-dir'], /needs a value/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseSandboxArgs(argv)).toThrow(message);
  });
});
