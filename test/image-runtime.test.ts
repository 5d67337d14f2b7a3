/**
 * The image's runtime stage as a container runs it, without Docker: only the bundle (`dist/`
 * copied into an empty `app/` directory, no node_modules anywhere above it), as uid/gid
 * 65532, on a read-only root filesystem (a private mount namespace whose root is remounted
 * read-only), writing only into its in-memory volume (a tmpfs). The agent fetches from the
 * local endpoint in init mode and writes what the app would read.
 */
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startDevServer } from '../dev/server.ts';
import { CLI } from './helpers/agent-process.ts';
import { tempDir } from './helpers/tmp.ts';
import { fileNeeds } from './helpers/needs.ts';

fileNeeds(t, 'mount namespaces');

const run = promisify(execFile);

/** The runtime stage's ENV instructions, as the container runtime sets them. */
function imageEnv(): Record<string, string> {
  const text = readFileSync(join(import.meta.dirname, '..', 'Dockerfile'), 'utf8');
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const [, pairs] of runtime.matchAll(/^ENV (.+)$/gm))
    for (const [, k, v] of (pairs ?? '').matchAll(/(\w+)=(\S+)/g)) env[k as string] = v as string;
  return env;
}

/** In a private mount namespace: the volume, the read-only root, then the command as 65532. */
const CONTAINER = `set -e
mount --make-rprivate /
mount -t tmpfs -o size=4m,mode=0777 tmpfs "$VOLUME"
mount -o remount,bind,ro /
cd "$APP"
# The test runner adds its own hooks to every child's NODE_OPTIONS; a container has none.
unset NODE_OPTIONS
if touch "$APP/written" 2>/dev/null; then echo "root is writable"; exit 9; fi
setpriv --reuid 65532 --regid 65532 --clear-groups "$@"
echo "--- files"
for f in "$VOLUME"/*; do printf '%s %s %s\\n' "$(basename "$f")" "$(stat -L -c '%u %a' "$f")" "$(cat "$f")"; done
`;

t.test('the bundle alone, as 65532 on a read-only root, fetches and writes', async (t) => {
  const root = await tempDir(t);
  // As in the image: root-owned, readable and searchable by everyone, writable by none but root.
  await chmod(root, 0o755);
  const app = join(root, 'app');
  const volume = join(root, 'secrets');
  await mkdir(volume);
  await cp(dirname(CLI), join(app, 'dist'), { recursive: true });
  for (let dir = app; dir !== parse(dir).root; dir = dirname(dir))
    t.notOk(existsSync(join(dir, 'node_modules')), `no node_modules in ${dir}`);
  t.match(imageEnv(), { NODE_ENV: 'production', HOME: '/nonexistent' }, 'the image’s environment');
  const script = join(root, 'container.sh');
  await writeFile(script, CONTAINER);
  const server = await startDevServer({
    seed: { secrets: [{ name: 'prod/db', value: { username: 'app', password: 'pw' } }] },
  });
  t.teardown(() => server.close());
  const config = {
    mode: 'init',
    outputDir: volume,
    terminationLogPath: join(volume, '.termination-log'),
    secrets: [
      { name: 'db', id: 'prod/db', key: 'password' },
      { name: 'db.yaml', id: 'prod/db', format: 'yaml' },
      { name: 'url', id: 'prod/db', template: 'postgres://{{username}}@db' },
    ],
  };
  const { stdout } = await run(
    'unshare',
    [
      '-m',
      'sh',
      script,
      process.execPath,
      join(app, 'dist', 'cli.js'),
      'agent',
      '--config-json',
      JSON.stringify(config),
    ],
    {
      env: {
        ...imageEnv(),
        PATH: process.env['PATH'] ?? '',
        APP: app,
        VOLUME: volume,
        AWS_ENDPOINT_URL: server.url,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDIMAGE',
        AWS_SECRET_ACCESS_KEY: 'image-secret',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    },
  );
  const files = stdout.slice(stdout.indexOf('--- files'));
  t.match(files, /^db 65532 644 pw$/m, 'written by 65532, readable by the app');
  t.match(
    files,
    /^db\.yaml 65532 644 username: app$/m,
    'the YAML writer, loaded on demand from the bundle',
  );
  t.match(
    files,
    /^url 65532 644 postgres:\/\/app@db$/m,
    'Handlebars, loaded on demand from the bundle',
  );
});
