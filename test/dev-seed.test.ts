// Seed validation names every bad path; the example fixture loads.
import t from 'tap';
import { isAgentError } from '../common/errors.ts';
import { loadSeedFile, parseSeed, parseSeedText } from '../dev/seed.ts';

function problems(raw: unknown): string {
  try {
    parseSeed(raw);
  } catch (err) {
    if (isAgentError(err) && err.code === 'SEED_INVALID') return err.message;
    throw err;
  }
  throw new Error('expected SEED_INVALID');
}

t.test('errors name the path', async (t) => {
  const cases: [unknown, RegExp][] = [
    [[], /\(root\): must be a mapping/],
    [
      { secrets: [{ name: 'a', value: 'x' }, { name: 'b' }, { name: 'c', value: 5 }] },
      /secrets\[2\]\.value: must be a string or a mapping/,
    ],
    [{ secrets: [{ value: 'x' }] }, /secrets\[0\]\.name: is required/],
    [{ secrets: [{ name: 'bad name!' }] }, /secrets\[0\]\.name: may hold only/],
    [
      { secrets: [{ name: 'a', binary: 'not base64!' }] },
      /secrets\[0\]\.binary: must be a base64 string/,
    ],
    [{ secrets: [{ name: 'a', value: 'x', binary: 'AA==' }] }, /secrets\[0\]: has both/],
    [{ secrets: [{ name: 'a' }, { name: 'a' }] }, /name "a" appears more than once/],
    [
      { secrets: [{ name: 'a', versions: [{ value: 'x', stages: ['AWSPREVIOUS'] }] }] },
      /secrets\[0\]\.versions: one version must have the AWSCURRENT stage/,
    ],
    [
      {
        secrets: [
          {
            name: 'a',
            versions: [
              { value: 'x', stages: ['AWSCURRENT'] },
              { value: 'y', stages: ['AWSCURRENT'] },
            ],
          },
        ],
      },
      /secrets\[0\]\.versions\[1\]\.stages: "AWSCURRENT" is already on/,
    ],
    [
      { secrets: [{ name: 'a', value: 'x', tags: { team: 1 } }] },
      /secrets\[0\]\.tags: must be a mapping of tag keys to string values/,
    ],
    [{ parameters: [{ name: 'a b', value: 'x' }] }, /parameters\[0\]\.name: may hold only/],
    [{ parameters: [{ name: '/a', value: 5 }] }, /parameters\[0\]\.value: must be a string/],
    [
      { parameters: [{ name: '/a', value: 'x', type: 'Secret' }] },
      /parameters\[0\]\.type: must be one of/,
    ],
    [
      {
        parameters: [
          { name: '/a', value: 'x' },
          { name: '/a', value: 'y' },
        ],
      },
      /parameters: name "\/a" appears more than once/,
    ],
    [{ sts: { audiences: 'x' } }, /sts\.audiences: must be a list/],
    [{ credentials: [{ accessKeyId: 'A' }] }, /credentials\[0\]\.secretAccessKey: is required/],
    [{ accountId: '12' }, /accountId: must be 12 digits/],
    [{ secrets: [], extra: 1 }, /extra: unknown field/],
  ];
  for (const [raw, expected] of cases) t.match(problems(raw), expected, String(expected));
  const many = problems({ secrets: [{ name: 'a', value: 5 }, { value: 'x' }] });
  t.match(many, /secrets\[0\]\.value/);
  t.match(many, /secrets\[1\]\.name/, 'every problem in one message');
});

t.test('YAML text and the example fixture', async (t) => {
  t.throws(() => parseSeedText('secrets: [ {', 'x.yaml'), { code: 'SEED_INVALID' });
  t.throws(() => parseSeedText('secrets: [ {', 'x.yaml'), /x\.yaml: not valid YAML/);
  const seed = await loadSeedFile('test/fixtures/seed.yaml');
  const catalog = seed.secrets.find((s) => s.name === 'eks-workshop-catalog-secret');
  const value = catalog?.versions[0]?.value;
  t.ok(
    value?.kind === 'string' &&
      (JSON.parse(value.text) as { username?: string }).username === 'catalog_user',
  );
  t.ok(seed.secrets.some((s) => s.versions.some((v) => v.value.kind === 'binary')));
  t.ok(seed.secrets.some((s) => s.versions.some((v) => v.stages.includes('AWSPREVIOUS'))));
  await t.rejects(loadSeedFile('test/fixtures/nope.yaml'), { code: 'SEED_INVALID' });
});
