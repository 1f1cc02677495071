import { fileURLToPath } from 'node:url';
import { loadBundle } from '../../core/code-cache.nodejs';

// dist-cli/hsm-host.mjs, the file the CLI forks (defaultHostEntry): the host's bundle beside it,
// run from V8's code cache (scripts/build-cli.mjs).
loadBundle(fileURLToPath(new URL('./hsm-host.cjs', import.meta.url)), { variant: 'host' });
