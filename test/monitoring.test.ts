/**
 * manifests/monitoring (issue #7): the dashboard and the alerts only name metrics and labels the
 * code registers. Every PromQL expression (dashboard targets, template variables, alert rules) is
 * taken apart by a small PromQL lexer (promtool is not available here), and each metric name, each
 * label in a selector or in `by (...)`/`on (...)`, and each `outcome` value is checked against
 * the registries of agent/metrics.ts and injector/metrics.ts.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { createAgentMetrics, LOCAL_API_OUTCOMES } from '../agent/metrics.ts';
import { CALL_OUTCOMES } from '../agent/source/errors.ts';
import { ADMISSION_OUTCOMES, RELOAD_OUTCOMES, createInjectorMetrics } from '../injector/metrics.ts';
import { LIMITS } from '../common/config.ts';
import { ErrorCodes } from '../common/errors.ts';
import { CONTRACT_AGENT_METRICS, CONTRACT_INJECTOR_METRICS } from './helpers/contract.ts';
import { fileNeeds } from './helpers/needs.ts';

fileNeeds(t, 'kubectl');

const run = promisify(execFile);
const DIR = 'manifests/monitoring';
const RUNBOOK = 'https://github.com/secrets-agent/secrets-agent#troubleshooting';

/** The documented metrics: the contract. Every one must be on the dashboard. */
const CONTRACT_METRICS = [...CONTRACT_AGENT_METRICS, ...CONTRACT_INJECTOR_METRICS];

/** Labels the Prometheus Operator's scrape configs add to every series (PodMonitor, ServiceMonitor). */
const TARGET_LABELS = ['namespace', 'pod', 'container', 'instance', 'job', 'endpoint', 'service'];

/** `outcome` values the code can emit (README tables; exported lists where the code has them). */
const OUTCOME_VALUES: Record<string, readonly string[]> = {
  secrets_agent_aws_api_calls_total: CALL_OUTCOMES,
  secrets_agent_k8s_secret_writes_total: [
    'created',
    'updated',
    'unchanged',
    'forbidden',
    'not_managed',
    'invalid',
    'unavailable',
    'error',
  ],
  secrets_agent_reload_total: ['success', 'failure'],
  secrets_agent_local_api_requests_total: LOCAL_API_OUTCOMES,
  secrets_agent_injector_admissions_total: ADMISSION_OUTCOMES,
  secrets_agent_injector_certificate_reloads_total: RELOAD_OUTCOMES,
};

// ---------------------------------------------------------------------------------------------
// A PromQL lexer and metric/label extractor.

const FUNCTIONS = new Set(
  (
    'abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp ' +
    'clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year ' +
    'days_in_month deg delta deriv double_exponential_smoothing exp floor histogram_avg ' +
    'histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar ' +
    'histogram_sum holt_winters hour idelta increase info irate label_join label_replace ' +
    'last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month pi ' +
    'predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin ' +
    'sinh sort sort_by_label sort_by_label_desc sort_desc sqrt stddev_over_time ' +
    'stdvar_over_time sum_over_time tan tanh time timestamp vector year start end'
  ).split(' '),
);
const AGGREGATIONS = new Set(
  'sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio'.split(
    ' ',
  ),
);
/** Keywords followed by a parenthesised label list. */
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan']);

type TokenKind = 'ident' | 'string' | 'number' | 'var' | 'range' | 'punct';
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
}

const LEXEMES: readonly (readonly [TokenKind, RegExp])[] = [
  ['string', /^"(?:[^"\\]|\\.)*"|^'(?:[^'\\]|\\.)*'|^`[^`]*`/],
  // A range or subquery, `[5m]`, `[$__rate_interval]`, `[1h:5m]`: never holds a name.
  ['range', /^\[[^\]]*\]/],
  ['var', /^\$\{[^}]*\}|^\$\w+/],
  ['number', /^(?:\d+(?:ms|[smhdwy]))+|^0x[0-9a-f]+|^(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?/i],
  ['ident', /^[a-zA-Z_:][a-zA-Z0-9_:]*/],
  ['punct', /^(?:==|!=|=~|!~|>=|<=|[-+*/%^(){},=<>@])/],
];

function lex(expr: string): Token[] {
  const tokens: Token[] = [];
  let rest = expr;
  while (rest.length > 0) {
    const space = /^(?:\s+|#[^\n]*)/.exec(rest);
    if (space !== null) {
      rest = rest.slice(space[0].length);
      continue;
    }
    const hit = LEXEMES.map(([kind, re]) => ({ kind, m: re.exec(rest) })).find((l) => l.m !== null);
    if (hit?.m == null)
      throw new Error(`cannot lex PromQL at ${JSON.stringify(rest.slice(0, 20))}`);
    tokens.push({ kind: hit.kind, text: hit.m[0] });
    rest = rest.slice(hit.m[0].length);
  }
  return tokens;
}

/** One use of a metric: its name as written, the labels it is selected or grouped by. */
interface MetricUse {
  readonly name: string;
  readonly labels: Set<string>;
  /** label → values of `=` matchers and of `=~` alternations of plain words. */
  readonly values: Map<string, string[]>;
}

interface Extracted {
  readonly uses: MetricUse[];
  readonly unknownFunctions: string[];
}

function unquote(s: string): string {
  return s.startsWith('`') ? s.slice(1, -1) : (JSON.parse(`"${s.slice(1, -1)}"`) as string);
}

/**
 * Metric names and labels in one expression. A label in `by`/`without`/`on`/`ignoring`/
 * `group_left`/`group_right` is charged to every metric inside the same parenthesised group
 * (stricter than PromQL needs, never looser).
 */
function extract(expr: string): Extracted {
  const tokens = lex(expr);
  const unknownFunctions: string[] = [];
  const all: MetricUse[] = [];
  interface Group {
    uses: MetricUse[];
    labels: string[];
  }
  const stack: Group[] = [{ uses: [], labels: [] }];
  const top = (): Group => stack[stack.length - 1] as Group;
  const at = (i: number): Token | undefined => tokens[i];
  const close = (): void => {
    const g = stack.pop() as Group;
    for (const use of g.uses) for (const label of g.labels) use.labels.add(label);
    top().uses.push(...g.uses);
  };
  /** `{ a="x", b=~"y|z" }` from index i (at `{`); returns the index after `}`. */
  const matchers = (i: number, use: MetricUse | undefined): [number, string | undefined] => {
    let j = i + 1;
    let name: string | undefined;
    while (at(j) !== undefined && at(j)?.text !== '}') {
      const label = at(j);
      const op = at(j + 1);
      const value = at(j + 2);
      const labelOk = label?.kind === 'ident' || label?.kind === 'string'; // "quoted" (Prometheus 3)
      if (label === undefined || !labelOk || op?.kind !== 'punct' || value?.kind !== 'string') {
        throw new Error(`bad label matcher in ${expr}`);
      }
      const key = label.kind === 'string' ? unquote(label.text) : label.text;
      const v = unquote(value.text);
      if (key === '__name__' && op.text === '=') name = v;
      use?.labels.add(key);
      const plain =
        op.text === '=' ? [v] : op.text === '=~' && /^[\w|]+$/.test(v) ? v.split('|') : [];
      if (use !== undefined && plain.length > 0) use.values.set(key, plain);
      j += 3;
      if (at(j)?.text === ',') j++;
    }
    return [j + 1, name];
  };
  let i = 0;
  while (i < tokens.length) {
    const tok = tokens[i] as Token;
    const next = at(i + 1);
    if (tok.kind === 'ident' && GROUPING.has(tok.text.toLowerCase()) && next?.text === '(') {
      let j = i + 2;
      for (; at(j) !== undefined && at(j)?.text !== ')'; j++) {
        if (at(j)?.kind === 'ident') top().labels.push(at(j)?.text as string);
      }
      i = j + 1;
    } else if (tok.kind === 'ident' && KEYWORDS.has(tok.text.toLowerCase())) {
      i++;
    } else if (tok.kind === 'ident' && AGGREGATIONS.has(tok.text) && next?.kind === 'ident') {
      i++; // `sum by (...) (...)`: the grouping comes next.
    } else if (tok.kind === 'ident' && next?.text === '(') {
      if (!FUNCTIONS.has(tok.text) && !AGGREGATIONS.has(tok.text)) unknownFunctions.push(tok.text);
      i++;
    } else if (tok.kind === 'ident') {
      const use: MetricUse = { name: tok.text, labels: new Set(), values: new Map() };
      all.push(use);
      top().uses.push(use);
      i = next?.text === '{' ? matchers(i + 1, use)[0] : i + 1;
    } else if (tok.text === '{') {
      const use: MetricUse = { name: '', labels: new Set(), values: new Map() };
      const [j, name] = matchers(i, use);
      if (name === undefined) throw new Error(`selector without a metric name in ${expr}`);
      const named = { ...use, name };
      all.push(named);
      top().uses.push(named);
      i = j;
    } else if (tok.text === '(') {
      stack.push({ uses: [], labels: [] });
      i++;
    } else if (tok.text === ')') {
      if (stack.length < 2) throw new Error(`unbalanced ) in ${expr}`);
      close();
      i++;
    } else {
      i++;
    }
  }
  if (stack.length !== 1) throw new Error(`unbalanced ( in ${expr}`);
  for (const use of top().uses) for (const label of top().labels) use.labels.add(label);
  return { uses: all, unknownFunctions };
}

/** Grafana's `label_values(expr, label)` variable query, or plain PromQL. */
function extractGrafanaQuery(query: string): Extracted {
  const lv = /^\s*label_values\((.*),\s*([a-zA-Z_]\w*)\s*\)\s*$/s.exec(query);
  if (lv === null) return extract(query);
  const inner = extract(lv[1] as string);
  for (const use of inner.uses) use.labels.add(lv[2] as string);
  return inner;
}

// ---------------------------------------------------------------------------------------------
// The registries and the check.

interface Known {
  readonly type: string;
  readonly labels: ReadonlySet<string>;
}

async function registries(): Promise<Map<string, Known>> {
  const agent = createAgentMetrics();
  const injector = createInjectorMetrics(new Registry(), false);
  const known = new Map<string, Known>();
  for (const registry of [agent.registry, injector.registry]) {
    for (const m of await registry.getMetricsAsJSON()) {
      // prom-client keeps each metric's label names on the instance (not in its typings).
      const names: unknown = Reflect.get(registry.getSingleMetric(m.name) ?? {}, 'labelNames');
      if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
        throw new Error(`no label names on ${m.name}: prom-client changed`);
      }
      // The typings say a numeric enum; the value is the exposition type, e.g. 'histogram'.
      const type: unknown = m.type;
      if (typeof type !== 'string') throw new Error(`type of ${m.name}: prom-client changed`);
      known.set(m.name, { type, labels: new Set<string>(names) });
    }
  }
  return known;
}

/** The registered metric a use refers to (histogram series suffixes stripped), or undefined. */
function resolve(known: Map<string, Known>, name: string): [string, Known, string] | undefined {
  const exact = known.get(name);
  if (exact !== undefined) return [name, exact, ''];
  const m = /^(.*)(_bucket|_sum|_count)$/.exec(name);
  const base = m === null ? undefined : known.get(m[1] as string);
  if (m === null || base?.type !== 'histogram') return undefined;
  return [m[1] as string, base, m[2] as string];
}

/** Problems with one expression; also returns the registered metric names it uses. */
function check(
  known: Map<string, Known>,
  where: string,
  x: Extracted,
): { problems: string[]; metrics: Set<string> } {
  const problems = x.unknownFunctions.map((f) => `${where}: unknown function ${f}()`);
  const metrics = new Set<string>();
  if (x.uses.length === 0) problems.push(`${where}: no metric in the expression`);
  for (const use of x.uses) {
    const hit = resolve(known, use.name);
    if (hit === undefined) {
      problems.push(`${where}: metric ${use.name} is not registered by the code`);
      continue;
    }
    const [base, meta, suffix] = hit;
    metrics.add(base);
    const allowed = new Set([...meta.labels, ...TARGET_LABELS, '__name__']);
    if (suffix === '_bucket') allowed.add('le');
    for (const label of use.labels) {
      if (!allowed.has(label)) problems.push(`${where}: ${use.name} has no label ${label}`);
    }
    const outcomes = OUTCOME_VALUES[base];
    for (const v of use.values.get('outcome') ?? []) {
      if (outcomes !== undefined && !outcomes.includes(v)) {
        problems.push(`${where}: ${base} never has outcome="${v}"`);
      }
    }
  }
  return { problems, metrics };
}

// ---------------------------------------------------------------------------------------------
// What the directory builds.

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: { expr?: string; refId?: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: {
    list: { name: string; type: string; query: unknown; datasource?: { uid?: string } }[];
  };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: { groups?: { name: string; rules: Rule[] }[] } & Record<string, unknown>;
}

const built = run('kubectl', ['kustomize', DIR], { maxBuffer: 16 << 20 }).then(({ stdout }) =>
  parseAllDocuments(stdout).map((d) => d.toJS() as Obj),
);
const dashboardFile = readFile(`${DIR}/secrets-agent-dashboard.json`, 'utf8');

function flatPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...flatPanels(p.panels ?? [])]);
}

function ruleList(objs: Obj[]): Rule[] {
  return objs
    .filter((o) => o.kind === 'PrometheusRule')
    .flatMap((o) => o.spec?.groups ?? [])
    .flatMap((g) => g.rules);
}

t.test('the extractor', async (t) => {
  const x = extract(
    'histogram_quantile(0.99, sum by (namespace, le) (rate(foo_seconds_bucket{job="a", outcome=~"x|y"}[$__rate_interval]))) > 1',
  );
  t.same(
    x.uses.map((u) => [u.name, [...u.labels].sort(), Object.fromEntries(u.values)]),
    [
      [
        'foo_seconds_bucket',
        ['job', 'le', 'namespace', 'outcome'],
        { job: ['a'], outcome: ['x', 'y'] },
      ],
    ],
  );
  t.same(x.unknownFunctions, []);
  t.same(
    extract('time() - bar offset 5m > 3 * (baz[1h:5m] or on (pod) vector(0)) unless qux').uses.map(
      (u) => [u.name, [...u.labels]],
    ),
    [
      ['bar', []],
      ['baz', ['pod']],
      ['qux', []],
    ],
  );
  t.same(
    extract('sum(rate({__name__="a_total", "by"="x"}[5m])) without (instance)').uses.map((u) => [
      u.name,
      [...u.labels].sort(),
    ]),
    [['a_total', ['__name__', 'by', 'instance']]],
  );
  // Names inside strings, ranges and Grafana variables are not metrics.
  t.same(
    extract('count(m{a="rate(x)"}[${interval}]) or vector(0)').uses.map((u) => u.name),
    ['m'],
  );
  t.same(extract('rat(m[5m])').unknownFunctions, ['rat']);
  t.same(
    extractGrafanaQuery('label_values(secrets_agent_ready, namespace)').uses.map((u) => [
      u.name,
      [...u.labels],
    ]),
    [['secrets_agent_ready', ['namespace']]],
  );
  t.throws(() => extract('sum(rate(m[5m])'), /unbalanced/);
});

t.test('the check catches wrong names, labels and outcomes', async (t) => {
  const known = await registries();
  for (const name of CONTRACT_METRICS) t.ok(known.has(name), `${name} is registered`);
  const good = check(
    known,
    'good',
    extract(
      'sum by (namespace, outcome) (rate(secrets_agent_fetch_total{outcome!="success"}[5m]))',
    ),
  );
  t.same(good.problems, []);
  t.same([...good.metrics], ['secrets_agent_fetch_total']);
  const cases: [string, RegExp][] = [
    ['rate(secrets_agent_fetch_totl[5m])', /secrets_agent_fetch_totl is not registered/],
    ['secrets_agent_fetches_total', /not registered/],
    ['sum by (secrett) (rate(secrets_agent_fetch_total[5m]))', /has no label secrett/],
    ['secrets_agent_ready{secret="x"}', /has no label secret/],
    ['rate(secrets_agent_fetch_duration_seconds_sum[5m]) > 0', /^$/],
    ['sum by (le) (rate(secrets_agent_fetch_duration_seconds_count[5m]))', /has no label le/],
    ['rate(secrets_agent_ready_bucket[5m])', /not registered/],
    ['rate(secrets_agent_injector_admissions_total{outcome="rejected"}[5m])', /never has outcome/],
    [
      'increase(secrets_agent_injector_certificate_reloads_total{outcome=~"loaded|failed"}[5m])',
      /outcome="failed"/,
    ],
    ['sum(rat(secrets_agent_fetch_total[5m]))', /unknown function rat/],
  ];
  for (const [expr, problem] of cases) {
    const { problems } = check(known, 'sample', extract(expr));
    if (problem.source === '^$') t.same(problems, [], expr);
    else t.match(problems.join('\n'), problem, expr);
  }
});

t.test('the directory builds, separately from the base', async (t) => {
  const objs = await built;
  t.same(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
    'ConfigMap/secrets-agent-dashboard',
    'PodMonitor/secrets-agent',
    'PrometheusRule/secrets-agent',
    'ServiceMonitor/secrets-agent-injector',
  ]);
  for (const o of objs) t.equal(o.metadata.namespace, 'secrets-agent', `${o.kind} namespace`);
  const base = await readFile('manifests/kustomization.yaml', 'utf8');
  t.notMatch(base, /monitoring/, 'the base does not include the Prometheus Operator kinds');
  const cm = objs.find((o) => o.kind === 'ConfigMap');
  t.equal(cm?.metadata.labels?.grafana_dashboard, '1', 'the Grafana sidecar label');
  t.equal(cm?.data?.['secrets-agent-dashboard.json'], await dashboardFile, 'the JSON as is');

  const pm = objs.find((o) => o.kind === 'PodMonitor');
  const golden = await readFile('test/golden/injector/minimal.json', 'utf8');
  const port = /"name":\s*"([^"]+)",\s*"containerPort":\s*9102/.exec(golden)?.[1];
  t.equal(port, 'agent-http');
  t.match(pm?.spec, { podMetricsEndpoints: [{ port }], namespaceSelector: { any: true } });
  // What any pod author could feed a shared Prometheus is capped, and the cap fits the largest
  // real agent: every secret with every fetch outcome, its timestamp and update series.
  const spec = pm?.spec as Record<string, unknown> | undefined;
  const worst = LIMITS.secrets.max * (1 + Object.keys(ErrorCodes).length + 2) + 500;
  t.ok(typeof spec?.['sampleLimit'] === 'number', 'sampleLimit is set');
  t.ok(worst <= Number(spec?.['sampleLimit']), `sampleLimit fits a real agent (${worst} series)`);
  t.ok(Number(spec?.['labelLimit']) > 0 && Number(spec?.['labelValueLengthLimit']) > 0);
  t.ok(
    LIMITS.fileNameLength <= Number(spec?.['labelValueLengthLimit']),
    'a secret label (a file name) fits',
  );
  t.match(spec, {
    podMetricsEndpoints: [
      {
        honorLabels: false,
        relabelings: [
          { sourceLabels: ['__meta_kubernetes_pod_annotation_secrets_agent_io_status'] },
          { sourceLabels: ['__meta_kubernetes_pod_container_name'], regex: 'secrets-agent' },
        ],
        metricRelabelings: [{ action: 'keep', sourceLabels: ['__name__'] }],
      },
    ],
  });
  const keep = new RegExp(
    `^(?:${String((spec?.['podMetricsEndpoints'] as { metricRelabelings: { regex: string }[] }[])[0]?.metricRelabelings[0]?.regex)})$`,
  );
  // The agent's registry as it runs: its own metrics and the process' default ones.
  const agent = createAgentMetrics();
  for (const { name } of await agent.registry.getMetricsAsJSON())
    t.match(name, keep, `${name} survives the metric filter`);
  t.notMatch('apiserver_request_total', keep, 'foreign metric names are dropped');
  const sm = objs.find((o) => o.kind === 'ServiceMonitor');
  t.match(sm?.spec, {
    endpoints: [{ port: 'metrics' }],
    selector: { matchLabels: { 'app.kubernetes.io/name': 'secrets-agent-injector' } },
  });
  const service = await readFile('manifests/service.yaml', 'utf8');
  t.match(service, /name: metrics\s+port: 9090/, 'the Service has the port the monitor names');
});

t.test('every dashboard expression names registered metrics and labels', async (t) => {
  const known = await registries();
  const dash = JSON.parse(await dashboardFile) as Dashboard;
  t.equal(dash.uid, 'secrets-agent');
  const vars = dash.templating.list;
  t.match(
    vars.find((v) => v.name === 'datasource'),
    { type: 'datasource', query: 'prometheus' },
  );
  t.ok(
    vars.some((v) => v.name === 'namespace' && v.type === 'query'),
    'a namespace variable',
  );

  const problems: string[] = [];
  const onPanels = new Set<string>();
  for (const v of vars.filter((v) => v.type === 'query')) {
    const q = v.query as string | { query: string };
    const query = typeof q === 'string' ? q : q.query;
    problems.push(...check(known, `variable ${v.name}`, extractGrafanaQuery(query)).problems);
    t.equal(v.datasource?.uid, '${datasource}', `variable ${v.name} uses $datasource`);
  }
  const panels = flatPanels(dash.panels);
  t.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids are unique');
  for (const p of panels.filter((p) => p.type !== 'row')) {
    t.ok((p.targets ?? []).length > 0, `${p.title} has a query`);
    t.equal(p.datasource?.uid, '${datasource}', `${p.title} uses $datasource`);
    for (const target of p.targets ?? []) {
      t.equal(target.datasource?.uid, '${datasource}', `${p.title} ${target.refId} datasource`);
      const r = check(known, `panel "${p.title}"`, extract(target.expr ?? ''));
      problems.push(...r.problems);
      for (const m of r.metrics) onPanels.add(m);
    }
  }
  t.same(problems, [], 'no unknown metric, label or outcome');
  for (const name of CONTRACT_METRICS) t.ok(onPanels.has(name), `${name} is on a panel`);
  for (const name of known.keys()) t.ok(onPanels.has(name), `${name} (registered) is on a panel`);
});

t.test('every alert names registered metrics and labels, and says what to do', async (t) => {
  const known = await registries();
  const rules = ruleList(await built);
  t.ok(rules.length >= 10, 'the alerts are there');
  const problems: string[] = [];
  const alerted = new Set<string>();
  for (const rule of rules) {
    const name = rule.alert ?? rule.record ?? '?';
    const r = check(known, `rule ${name}`, extract(rule.expr));
    problems.push(...r.problems);
    for (const m of r.metrics) alerted.add(m);
    t.match(rule.labels?.severity, /^(info|warning|critical)$/, `${name} severity`);
    t.ok(rule.annotations?.summary, `${name} summary`);
    t.ok(rule.annotations?.description, `${name} description`);
    t.equal(rule.annotations?.runbook_url, RUNBOOK, `${name} runbook_url`);
  }
  t.same(problems, [], 'no unknown metric, label or outcome');
  const names = new Set(rules.map((r) => r.alert));
  for (const alert of [
    'SecretsAgentSecretNotRefreshed',
    'SecretsAgentFetchErrors',
    'SecretsAgentNotReady',
    'SecretsAgentKubernetesSecretWriteFailures',
    'SecretsAgentReloadFailures',
    'SecretsAgentInjectorDenials',
    'SecretsAgentInjectorErrors',
    'SecretsAgentInjectorSlow',
    'SecretsAgentInjectorCertificateExpiring',
  ]) {
    t.ok(names.has(alert), alert);
  }
  const fetchErrors = rules.find((r) => r.alert === 'SecretsAgentFetchErrors');
  t.equal(fetchErrors?.for, '10m');
  t.match(fetchErrors?.expr, /outcome!="success"/);
  const denials = rules.find((r) => r.alert === 'SecretsAgentInjectorDenials');
  t.match(denials?.labels?.severity, /^(info|warning)$/);
  for (const m of [
    'secrets_agent_last_success_timestamp_seconds',
    'secrets_agent_fetch_total',
    'secrets_agent_ready',
    'secrets_agent_k8s_secret_writes_total',
    'secrets_agent_reload_total',
    'secrets_agent_local_api_requests_total',
    'secrets_agent_injector_admissions_total',
    'secrets_agent_injector_admission_duration_seconds',
    'secrets_agent_injector_certificate_expiry_timestamp_seconds',
  ]) {
    t.ok(alerted.has(m), `an alert on ${m}`);
  }
});
