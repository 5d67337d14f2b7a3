/**
 * The contract (common/contract.ts) points into the agent's schema and the injector derives its
 * keys from it: each row's field is one the schema knows, each problem about a field is named by
 * the row's annotation, and the prefixes are matched longest first. Field paths (common/field.ts)
 * render as Kubernetes' do.
 */
import t from 'tap';
import { CONFIG_FIELDS, SECRET_FIELDS, type SecretInput } from '../common/config.ts';
import {
  CONFIG_ROWS,
  POD_ANNOTATIONS,
  POD_KEYS,
  parseValue,
  podKeyForField,
  SECRET_ANNOTATIONS,
  SECRET_FIELD_PREFIX,
  SECRET_PREFIXES,
  SIDECAR_ONLY_KEYS,
  type PodRow,
  type SecretPrefix,
  type SecretRow,
} from '../common/contract.ts';
import { child, index, key, renderPath, samePath } from '../common/field.ts';
import { parseAnnotations } from '../injector/annotations.ts';
import { annotationForField } from '../injector/field-annotations.ts';
import { annotationPath } from '../injector/problems.ts';
import { injectPod } from '../injector/inject.ts';
import { buildPlan, DEFAULT_INJECTOR_OPTIONS } from '../injector/plan.ts';
import type { Pod } from '../injector/types.ts';

const P = 'secrets-agent.io/';
const podRows = Object.entries(POD_ANNOTATIONS) as [string, PodRow][];
const secretRows = Object.entries(SECRET_ANNOTATIONS) as [SecretPrefix, SecretRow][];

t.test('paths render as Kubernetes field paths', (t) => {
  const secrets = child([], 'secrets');
  t.equal(renderPath(child(index(secrets, 2), 'format')), 'secrets[2].format');
  t.equal(
    renderPath(key(['metadata', 'annotations'], `${P}mode`)),
    `metadata.annotations[${P}mode]`,
  );
  t.equal(renderPath([]), '');
  t.ok(samePath(['a', 0, { key: 'k' }], ['a', 0, { key: 'k' }]));
  t.notOk(samePath(['a', 0], ['a', '0']), 'an index is not a field named "0"');
  t.notOk(samePath([{ key: 'a.b' }], ['a', 'b']), 'a key is not a path of fields');
  t.end();
});

t.test("every row that reaches the configuration names a field of the agent's schema", (t) => {
  for (const [annotation, row] of podRows) {
    if (row.reach !== 'config') continue;
    t.ok((CONFIG_FIELDS as readonly string[]).includes(row.config[0]), annotation);
    t.equal(podKeyForField(row.config), annotation, `${renderPath(row.config)} is ${annotation}'s`);
  }
  for (const [prefix, row] of secretRows)
    t.ok((SECRET_FIELDS as readonly string[]).includes(row.field), prefix);
  for (const field of SECRET_FIELDS)
    t.ok(SECRET_FIELD_PREFIX[field] in SECRET_ANNOTATIONS, `${field} comes from an annotation`);
  t.same(POD_KEYS, Object.keys(POD_ANNOTATIONS));
  t.end();
});

t.test("a problem with a row's field is named by the row's annotation", (t) => {
  for (const [annotation, row] of podRows)
    if (row.reach === 'config')
      t.equal(annotationForField(row.config, []), annotation, renderPath(row.config));
  const secrets: SecretInput[] = [
    { name: 'db', id: 'x' },
    { name: 'url', id: '/x', source: 'parameter' },
  ];
  for (const [prefix, row] of secretRows) {
    if (row.field === 'id') continue;
    t.equal(annotationForField(['secrets', 0, row.field], secrets), `${prefix}db`, prefix);
  }
  t.equal(annotationForField(['secrets', 1, 'id'], secrets), 'param-url', 'the source names it');
  t.equal(annotationForField(['httpPort'], secrets), 'inject', "the injector's own fields");
  t.equal(annotationForField(['k8sSecret'], secrets), 'k8s-secret', 'the object the field is in');
  for (const path of [
    ['k8sSecret', 'namespace'],
    ['k8sSecret', 'owners', 0, 'uid'],
  ])
    t.equal(annotationForField(path, secrets), 'inject', `${renderPath(path)}: the injector's`);
  t.end();
});

t.test('the per-secret prefixes are matched longest first', (t) => {
  t.same([...SECRET_PREFIXES].sort(), Object.keys(SECRET_ANNOTATIONS).sort());
  SECRET_PREFIXES.forEach((later, i) => {
    for (const earlier of SECRET_PREFIXES.slice(0, i))
      t.notOk(later.startsWith(earlier), `${later} is tried before ${earlier}`);
  });
  t.end();
});

t.test('annotation values are read as the row says, or said to be wrong', (t) => {
  t.same(parseValue('trimmed', ' 5m '), { value: '5m' });
  t.same(parseValue('text', ' a '), { value: ' a ' });
  t.same(parseValue('boolean', 'true'), { value: true });
  t.same(parseValue('boolean', 'false'), { value: false });
  t.match(parseValue('boolean', 'yes'), { problem: /must be "true" or "false"; got "yes"/ });
  t.same(parseValue('port', '8080'), { value: 8080 });
  t.match(parseValue('port', '80a'), { problem: /must be a port number/ });
  t.match(parseValue('port', '123456'), { problem: /must be a port number/ });
  t.end();
});

t.test("each annotation that sets the agent's configuration is denied at its own path", (t) => {
  // A value of the wrong shape for every row: the problem is the row's, kind and path.
  const wrong: Readonly<Record<string, string>> = {
    mode: 'daemon',
    'refresh-interval': 'often',
    region: 'Europe',
    'failover-region': 'west',
    'proxy-address': 'proxy',
    'use-fips-endpoint': 'yes',
    'k8s-secret': 'Bad_Name',
    'reload-url': 'http://10.0.0.1/',
    'local-api': 'on',
    'local-api-port': '80',
  };
  for (const [annotation, row] of podRows) {
    if (row.reach !== 'config') continue;
    const value = wrong[annotation];
    t.ok(value, `a wrong value for ${annotation}`);
    const result = parseAnnotations({
      [`${P}inject`]: 'true',
      [`${P}secret-db`]: 'db',
      [`${P}${annotation}`]: value ?? '',
    });
    const problems = result.ok ? [] : result.problems;
    t.match(problems, [{ path: annotationPath(annotation) }], annotation);
    t.equal(problems.length, 1, `${annotation}: one problem`);
    // The value as written (a port as the number the schema read).
    t.equal(String(problems[0]?.badValue), value, `${annotation}: the value is kept`);
  }
  t.end();
});

t.test('only the rows that say so are pointless in init mode', (t) => {
  t.same(SIDECAR_ONLY_KEYS, ['native-sidecar', 'refresh-interval', 'reload-url']);
  const result = parseAnnotations({
    [`${P}inject`]: 'true',
    [`${P}mode`]: 'init',
    [`${P}secret-db`]: 'db',
    [`${P}refresh-interval`]: '1m',
    [`${P}region`]: 'eu-west-1',
  });
  t.ok(result.ok);
  t.match(result.ok && result.value.inject ? result.value.warnings : [], [
    /refresh-interval has no effect in init mode/,
  ]);
  t.equal(result.ok && result.value.inject ? result.value.warnings.length : -1, 1);
  t.end();
});

t.test(
  "role-arn reaches the agent as the variable its row names, and the app's env does not",
  (t) => {
    const row = POD_ANNOTATIONS['role-arn'];
    const arn = 'arn:aws:iam::111122223333:role/app';
    const pod: Pod = {
      metadata: {
        name: 'p',
        annotations: { [`${P}inject`]: 'true', [`${P}secret-db`]: 'db', [`${P}role-arn`]: arn },
      },
      spec: { containers: [{ name: 'app', image: 'app:1' }] },
    };
    const result = injectPod(pod, DEFAULT_INJECTOR_OPTIONS);
    if (result.outcome !== 'injected') throw new Error(JSON.stringify(result));
    const all = [...(result.pod.spec.initContainers ?? []), ...result.pod.spec.containers];
    const agent = all.find((c) => c.name === 'secrets-agent');
    const app = all.find((c) => c.name === 'app');
    t.same(agent?.env?.find((e) => e.name === row.env)?.value, arn);
    t.notOk(
      app?.env?.some((e) => e.name === row.env),
      'the app keeps its own identity',
    );
    t.end();
  },
);

t.test('each row that sets a configuration field reaches the agent as the row says', (t) => {
  const valid: Readonly<Record<string, string>> = {
    mode: 'sidecar',
    'refresh-interval': '90s',
    region: 'eu-west-1',
    'failover-region': 'eu-central-1',
    'proxy-address': 'http://proxy.internal:3128',
    'use-fips-endpoint': 'true',
    'k8s-secret': 'app-secrets',
    'reload-url': 'http://127.0.0.1:8080/-/reload',
    'local-api': 'true',
    'local-api-port': '2774',
  };
  const annotations: Record<string, string> = { [`${P}inject`]: 'true', [`${P}secret-db`]: 'db' };
  for (const [annotation, text] of Object.entries(valid)) annotations[`${P}${annotation}`] = text;
  const pod: Pod = {
    metadata: { name: 'p', annotations },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
  };
  const parsed = parseAnnotations(annotations, pod);
  if (!parsed.ok || !parsed.value.inject) throw new Error(JSON.stringify(parsed));
  const options = { ...DEFAULT_INJECTOR_OPTIONS, nativeSidecar: false };
  const plan = buildPlan(pod, parsed.value, options);
  t.equal(plan.layout, 'init+sidecar');
  for (const row of CONFIG_ROWS) {
    const [annotation] = podRows.find(([, r]) => r === row) ?? [''];
    const text = valid[annotation];
    t.ok(text, `a valid value for ${annotation}`);
    const read = parseValue(row.parse, text ?? '');
    const expected = 'value' in read ? read.value : undefined;
    t.equal(fieldAt(plan.config, row.config), expected, `${annotation} reaches the sidecar`);
    const init = fieldAt(plan.initConfig, row.config);
    if (row.sidecarOnly === true || row.served === true)
      t.equal(init, undefined, `${annotation} is not the init container's`);
    else if (row.decided !== true) t.equal(init, expected, `${annotation} reaches the init`);
  }
  t.end();
});

function fieldAt(config: object | undefined, path: readonly string[]): unknown {
  let at: unknown = config;
  for (const name of path)
    at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[name] : undefined;
  return at;
}

t.test('a problem keeps the value it is about, shortened, and never a credential', (t) => {
  const deny = (extra: Record<string, string>) => {
    const result = parseAnnotations({ [`${P}inject`]: 'true', [`${P}secret-db`]: 'db', ...extra });
    return result.ok ? [] : result.problems;
  };
  const long = 'x'.repeat(300);
  const [tooLong] = deny({ [`${P}format-db`]: long });
  t.match(tooLong, { kind: 'too-long', path: annotationPath('format-db') });
  t.equal(tooLong?.badValue, 'x'.repeat(100), 'cut where a message cuts it');
  const [perSecret] = deny({ [`${P}version-stage-db`]: 'not a stage' });
  t.match(perSecret, { kind: 'invalid', path: annotationPath('version-stage-db') });
  t.equal(perSecret?.badValue, 'not a stage');
  const [credential] = deny({ [`${P}proxy-address`]: 'http://user:hunter2@proxy:3128' });
  t.match(credential, { kind: 'invalid', path: annotationPath('proxy-address') });
  t.equal(credential?.badValue, undefined, 'a user or password is never kept');
  t.notMatch(credential?.message ?? '', /hunter2/);
  const [both] = deny({ [`${P}key-db`]: 'a', [`${P}template-db`]: '{{ a }}' });
  t.match(both, { kind: 'forbidden', path: annotationPath('template-db') });
  t.equal(both?.badValue, undefined, 'two values together are not one bad value');
  t.end();
});
