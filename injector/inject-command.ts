/**
 * `secrets-agent inject -f FILE|-`: prints what the webhook would make of the Pods and workload
 * pod templates in a YAML or JSON file (several documents, `List`s); everything else passes
 * through unchanged. Bad annotations anywhere: every message on stderr, nothing on stdout (a
 * half-injected manifest piped into `kubectl apply` would be worse than none), exit 1.
 */
import { regionProblem } from '../common/config.ts';
import { parseBooleanText } from '../common/values.ts';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Parser, parseAllDocuments, stringify } from 'yaml';
import type { CommandContext } from '../common/command.ts';
import { AgentError } from '../common/errors.ts';
import { helpText, parseFlags, stringFlag } from '../common/flags.ts';
import type { CommandSpec, FlagValues } from '../common/flags.ts';
import { awsDefaultFlags, awsDefaultOptions } from './aws-defaults.ts';
import { formatProblem, problemCount } from './problems.ts';
import { nearMisses } from './near-miss.ts';
import { concernsInjector } from './opt-in.ts';
import { optInHints } from './suggest.ts';
import { injectPod } from './inject.ts';
import { DEFAULT_INJECTOR_OPTIONS } from './plan.ts';
import type { InjectorOptions } from './plan.ts';
import { ANNOTATION_PREFIX, parsePod, PodShapeError } from './types.ts';
import type { Pod } from './types.ts';
import { isObject } from '../common/json.ts';

export const INJECT_COMMAND: CommandSpec = {
  name: 'inject',
  summary: 'print what the injector would make of the pods and workloads in a file',
  usage: 'secrets-agent inject -f FILE|DIR|- [-R] [-o yaml|json] [flags]',
  flags: [
    {
      name: 'filename',
      short: 'f',
      env: 'SECRETS_AGENT_INJECT_FILE',
      type: 'string',
      help: 'YAML or JSON file of Kubernetes objects, or a directory of them (.yaml, .yml, .json); - reads stdin',
    },
    {
      name: 'recursive',
      short: 'R',
      env: 'SECRETS_AGENT_INJECT_RECURSIVE',
      type: 'boolean',
      help: 'with a directory, its sub-directories too (as kubectl -R)',
    },
    {
      name: 'output',
      short: 'o',
      env: 'SECRETS_AGENT_INJECT_OUTPUT',
      type: 'string',
      help: 'yaml or json (default: the input’s format)',
    },
    {
      name: 'allow-near-miss',
      env: 'SECRETS_AGENT_INJECT_ALLOW_NEAR_MISS',
      type: 'boolean',
      help: 'an annotation key that looks like secrets-agent.io/ but is not (secret-agent.io/inject) is a warning, not an error',
    },
    {
      name: 'image',
      env: 'SECRETS_AGENT_IMAGE',
      type: 'string',
      help: 'the agent image',
      default: DEFAULT_INJECTOR_OPTIONS.image,
    },
    {
      name: 'default-region',
      env: 'SECRETS_AGENT_DEFAULT_REGION',
      type: 'string',
      help: 'AWS region for pods that name none (annotation, secret ARN, AWS_REGION/AWS_DEFAULT_REGION)',
    },
    ...awsDefaultFlags('SECRETS_AGENT_'),
    {
      name: 'native-sidecar',
      env: 'SECRETS_AGENT_NATIVE_SIDECAR',
      type: 'string',
      help: 'sidecar mode as a restartable init container (true|false)',
      default: 'true',
    },
  ],
};

/** Where each kind keeps its pod template. */
const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

type Obj = Record<string, unknown>;

interface Outcome {
  readonly value: unknown;
  readonly changed: boolean;
}

/**
 * Collects problems and warnings across every object of the file; `nearMiss` says which of the
 * two a near-miss annotation key is (near-miss.ts).
 */
interface Report {
  readonly errors: string[];
  readonly warnings: string[];
  readonly nearMiss: 'errors' | 'warnings';
}

export async function run(ctx: CommandContext): Promise<number> {
  const { values, help } = parseFlags(INJECT_COMMAND, ctx.argv, ctx.env);
  if (help) {
    ctx.stdout.write(helpText(INJECT_COMMAND));
    return 0;
  }
  const file = stringFlag(values, 'filename');
  if (file === undefined)
    throw new AgentError('USAGE', 'inject: -f FILE (or - for stdin) is required');
  const output = parseOutput(stringFlag(values, 'output'));
  const options = injectorOptions(values);
  const text =
    file === '-'
      ? await readStream(ctx.stdin)
      : await readInput(file, values['recursive'] === true);
  const nearMiss = values['allow-near-miss'] === true ? 'warnings' : 'errors';
  const result = transform(text, options, output, nearMiss);
  for (const w of result.report.warnings) ctx.stderr.write(`warning: ${w}\n`);
  if (result.report.errors.length > 0) {
    for (const e of result.report.errors) ctx.stderr.write(`secrets-agent inject: ${e}\n`);
    return 1;
  }
  ctx.stdout.write(result.text);
  return 0;
}

const MANIFEST = /\.(ya?ml|json)$/;

/**
 * A file's text, or a directory's manifests (as kubectl reads `-f DIR`: its .yaml, .yml and
 * .json files in name order; with -R, sub-directories too) as one multi-document YAML stream.
 */
async function readInput(path: string, recursive: boolean): Promise<string> {
  const info = await stat(path).catch((err: unknown) => {
    throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  });
  if (!info.isDirectory()) {
    if (KUSTOMIZATION_FILES.includes(basename(path))) throw kustomizeDirectory(dirname(path));
    return readFile(path, 'utf8');
  }
  const files = await manifestFiles(path, recursive);
  const kustomization = files.find((f) => KUSTOMIZATION_FILES.includes(basename(f)));
  if (kustomization !== undefined) throw kustomizeDirectory(dirname(kustomization));
  if (files.length === 0)
    throw new AgentError('USAGE', `inject: ${path} holds no .yaml, .yml or .json file`);
  const texts = await Promise.all(files.map((f) => readFile(f, 'utf8')));
  // JSON is YAML: one stream, documents separated as kubectl would read them one by one.
  return texts.map((t) => (t.endsWith('\n') ? t : `${t}\n`)).join('---\n');
}

/** The names kustomize looks for in a directory. */
const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/**
 * A kustomize directory's files are its inputs, not what it builds (patches, generators, a
 * namespace are applied by kustomize): injecting them as they are would print the
 * Kustomization unchanged and the pods without their namespace. Said, with the pipeline to use.
 */
function kustomizeDirectory(dir: string): AgentError {
  return new AgentError(
    'USAGE',
    `inject: ${dir} is a kustomize directory: its files are not what it builds; build it first: kubectl kustomize ${dir} | secrets-agent inject -f -`,
  );
}

async function manifestFiles(dir: string, recursive: boolean): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  const files: string[] = [];
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory() && recursive) files.push(...(await manifestFiles(path, true)));
    else if (e.isFile() && (MANIFEST.test(e.name) || e.name === 'Kustomization')) files.push(path);
  }
  return files;
}

function parseOutput(value: string | undefined): 'yaml' | 'json' | undefined {
  if (value === undefined || value === 'yaml' || value === 'json') return value;
  throw new AgentError(
    'USAGE',
    `inject: --output (SECRETS_AGENT_INJECT_OUTPUT) must be yaml or json, got "${value}"`,
  );
}

function injectorOptions(values: FlagValues): InjectorOptions {
  const native = values['native-sidecar'];
  const nativeSidecar = typeof native === 'string' ? parseBooleanText(native) : undefined;
  if (nativeSidecar === undefined) {
    throw new AgentError(
      'USAGE',
      `inject: --native-sidecar (SECRETS_AGENT_NATIVE_SIDECAR) must be true or false, got "${String(native)}"`,
    );
  }
  const image = values['image'];
  const region = values['default-region'];
  const wrong = typeof region === 'string' ? regionProblem(region) : undefined;
  if (wrong !== undefined) {
    throw new AgentError(
      'USAGE',
      `inject: --default-region (SECRETS_AGENT_DEFAULT_REGION) ${wrong}`,
    );
  }
  return {
    ...DEFAULT_INJECTOR_OPTIONS,
    nativeSidecar,
    ...(typeof image === 'string' ? { image } : {}),
    ...(typeof region === 'string' ? { defaultRegion: region } : {}),
    ...awsDefaultOptions(values, 'inject', 'SECRETS_AGENT_'),
  };
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The whole file: every document injected, then printed in the requested format. */
export function transform(
  text: string,
  options: InjectorOptions,
  output?: 'yaml' | 'json',
  nearMiss: Report['nearMiss'] = 'errors',
): { text: string; report: Report } {
  const report: Report = { errors: [], warnings: [], nearMiss };
  const docs = parseAllDocuments(text);
  const format = output ?? (/^\s*[{[]/.test(text) ? 'json' : 'yaml');
  const sources = documentSources(text);
  const results: { source: string; outcome: Outcome }[] = [];
  for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    if (doc.errors.length > 0) {
      report.errors.push(`document ${i + 1}: ${doc.errors.map((e) => e.message).join('; ')}`);
      continue;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    results.push({ source: sources[i] ?? '', outcome: injectObject(value, options, report) });
  }
  return {
    text: format === 'json' ? printJson(results.map((r) => r.outcome.value)) : printYaml(results),
    report,
  };
}

function printJson(values: readonly unknown[]): string {
  const body = values.length === 1 ? values[0] : { apiVersion: 'v1', kind: 'List', items: values };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/**
 * Each document's own text, byte for byte, without its `---` marker (the separator is printed
 * between documents): an unchanged document is printed as it was written, comments and all.
 */
function documentSources(text: string): string[] {
  const tokens = [...new Parser().parse(text)];
  // The first document owns what comes before it (comments, directives).
  const starts = tokens
    .filter((t) => t.type === 'document')
    .map((t, i) => (i === 0 ? 0 : t.offset));
  return starts.map((start, i) =>
    text.slice(start, starts[i + 1] ?? text.length).replace(/^---[ \t]*(\r?\n|$)/, ''),
  );
}

/**
 * Changed documents as plain YAML: a value that occurs twice (env entries copied to the agent)
 * is written twice, never as an anchor and an alias, which some tools do not read.
 */
function printYaml(results: readonly { source: string; outcome: Outcome }[]): string {
  return results
    .map((r) =>
      r.outcome.changed
        ? stringify(r.outcome.value, { lineWidth: 0, aliasDuplicateObjects: false })
        : r.source.replace(/(\r?\n)?\.\.\.[ \t]*\r?\n?$/, '$1'),
    )
    .map((s) => (s.endsWith('\n') ? s : `${s}\n`))
    .join('---\n');
}

/** One object: a workload, a List of objects, or anything else (passed through). */
export function injectObject(value: unknown, options: InjectorOptions, report: Report): Outcome {
  if (!isObject(value)) return { value, changed: false };
  const kind = typeof value['kind'] === 'string' ? value['kind'] : '';
  if (Array.isArray(value['items']) && kind.endsWith('List'))
    return injectList(value, value['items'], options, report);
  const path = TEMPLATE_PATHS[kind];
  if (path === undefined) {
    warnUnknownKind(value, kind, report);
    return { value, changed: false };
  }
  return injectWorkload(value, kind, path, options, report);
}

function injectList(
  list: Obj,
  items: readonly unknown[],
  options: InjectorOptions,
  report: Report,
): Outcome {
  const outcomes = items.map((item) => injectObject(item, options, report));
  if (!outcomes.some((o) => o.changed)) return { value: list, changed: false };
  return { value: { ...list, items: outcomes.map((o) => o.value) }, changed: true };
}

function injectWorkload(
  workload: Obj,
  kind: string,
  path: readonly string[],
  options: InjectorOptions,
  report: Report,
): Outcome {
  const name = objectName(workload, kind);
  const template = getPath(workload, path);
  let pod: Pod;
  try {
    pod = parsePod(template);
  } catch (err) {
    if (!(err instanceof PodShapeError)) throw err;
    report.errors.push(`${name}: ${path.length === 0 ? '' : `${path.join('.')}: `}${err.message}`);
    return { value: workload, changed: false };
  }
  for (const key of nearMisses(pod.metadata?.annotations))
    report[report.nearMiss].push(
      `${name}: the annotation ${key} looks like a ${ANNOTATION_PREFIX} annotation but is not one: the injector never sees it (did you mean ${ANNOTATION_PREFIX}${key.slice(key.indexOf('/') + 1)}?${report.nearMiss === 'errors' ? ' --allow-near-miss to go on' : ''})`,
    );
  const result = injectPod(pod, options);
  switch (result.outcome) {
    case 'skipped':
      if (result.reason === 'not-opted-in')
        for (const h of optInHints(pod.metadata?.annotations))
          report.warnings.push(`${name}: ${h}`);
      return { value: workload, changed: false };
    case 'denied': {
      const total = problemCount(result.problems);
      const count = total === 1 ? '1 problem' : `${total} problems`;
      const lines = result.problems.map((p) => `  ${formatProblem(p)}`);
      report.errors.push(
        `${name}: ${count} with secrets-agent.io annotations:\n${lines.join('\n')}`,
      );
      return { value: workload, changed: false };
    }
    case 'injected':
      for (const w of result.warnings) report.warnings.push(`${name}: ${w}`);
      return { value: setPath(workload, path, result.pod), changed: true };
  }
}

/**
 * A kind `inject` does not know (an Argo Rollout, a Knative Service…) whose pod template opted
 * in: it passes through unchanged, which its author may not expect. The webhook still injects
 * its pods when the controller creates them.
 */
function warnUnknownKind(obj: Obj, kind: string, report: Report): void {
  const annotations = getPath(obj, ['spec', 'template', 'metadata', 'annotations']);
  if (!concernsInjector(annotations)) return;
  report.warnings.push(
    `${objectName(obj, kind || '<no kind>')}: its pod template opts in, but inject knows only ${Object.keys(TEMPLATE_PATHS).join(', ')}: passed through unchanged (the webhook injects its pods when they are created)`,
  );
}

function objectName(obj: Obj, kind: string): string {
  const meta = isObject(obj['metadata']) ? obj['metadata'] : {};
  const name = typeof meta['name'] === 'string' ? meta['name'] : '<unnamed>';
  const ns = typeof meta['namespace'] === 'string' ? `${meta['namespace']}/` : '';
  return `${kind} ${ns}${name}`;
}

function getPath(obj: unknown, path: readonly string[]): unknown {
  let at = obj;
  for (const key of path) at = isObject(at) ? at[key] : undefined;
  return at;
}

/** A copy of `obj` with the value at `path` replaced. */
function setPath(obj: Obj, path: readonly string[], value: unknown): Obj {
  const [head, ...rest] = path;
  if (head === undefined) return value as Obj;
  const child = obj[head];
  return { ...obj, [head]: setPath(isObject(child) ? child : {}, rest, value) };
}
