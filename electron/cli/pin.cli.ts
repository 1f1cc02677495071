import { MkmError } from '../../shared/errors.std';

/**
 * The PIN never comes from argv (it would sit in shell history and `ps`): MKM_PIN for scripts,
 * otherwise a prompt with echo off on a terminal.
 */
export async function readPin(prompt = 'Token PIN: ', env = process.env): Promise<string> {
  const fromEnv = env.MKM_PIN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const input = process.stdin;
  if (!input.isTTY) {
    throw new MkmError('USAGE', 'No PIN: set MKM_PIN or run mkm in a terminal to be asked for it.');
  }
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  return new Promise<string>((resolve, reject) => {
    let pin = '';
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          done();
          resolve(pin);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new MkmError('CANCELLED'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') pin = pin.slice(0, -1);
        else pin += ch;
      }
    };
    const done = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
    };
    input.on('data', onData);
  });
}
