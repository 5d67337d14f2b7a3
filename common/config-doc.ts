/**
 * What docs/agent.md says of each field of the agent's configuration, from the schema's own
 * lists, DEFAULTS and LIMITS (config.ts): a field the schema gains without a row here does not
 * compile, and a test holds the doc's two tables ("Agent configuration", "Each entry of
 * `secrets`") to these rows.
 */
import {
  CONFIG_FIELDS,
  DEFAULTS,
  FORMATS,
  LIMITS,
  LOG_LEVELS,
  MODES,
  SECRET_FIELDS,
  SOURCES,
} from './config.ts';
import { POD_ANNOTATIONS, SECRET_ANNOTATIONS } from './contract.ts';
import { formatDuration } from './duration.ts';

/** One field's row: its default and its meaning, in the documentation's words. */
export interface FieldDoc {
  readonly default: string;
  readonly doc: string;
}

const code = (text: string | number): string => `\`${text}\``;
const range = (r: { readonly min: number; readonly max: number }): string =>
  `${code(formatDuration(r.min))} to ${code(formatDuration(r.max))}`;
/** `a`, `b` or `c`. */
const either = (values: readonly string[]): string => {
  const shown = values.map(code);
  return `${shown.slice(0, -1).join(', ')} or ${shown.at(-1) ?? ''}`;
};
const NONE = '—';
const REQUIRED = 'required';
const FALSE = code(String(false));

/** The top-level fields, in the schema's order (CONFIG_FIELDS). */
export const CONFIG_FIELD_DOCS = {
  mode: { default: code(DEFAULTS.mode), doc: either(MODES) },
  outputDir: {
    default: code(DEFAULTS.outputDir),
    doc: 'where the files go (the shared in-memory volume)',
  },
  refreshInterval: {
    default: code(DEFAULTS.refreshInterval),
    doc: range(LIMITS.refreshIntervalMs),
  },
  initTimeout: { default: code(DEFAULTS.initTimeout), doc: range(LIMITS.initTimeoutMs) },
  requestTimeout: { default: code(DEFAULTS.requestTimeout), doc: range(LIMITS.requestTimeoutMs) },
  region: { default: POD_ANNOTATIONS.region.default, doc: POD_ANNOTATIONS.region.doc },
  failoverRegion: { default: NONE, doc: POD_ANNOTATIONS['failover-region'].doc },
  proxyAddress: { default: NONE, doc: 'HTTP(S) proxy for every AWS call' },
  useFipsEndpoint: { default: FALSE, doc: POD_ANNOTATIONS['use-fips-endpoint'].doc },
  httpAddress: {
    default: code(DEFAULTS.httpAddress),
    doc: 'address of the health and metrics server',
  },
  httpPort: { default: code(DEFAULTS.httpPort), doc: 'its port; `0` turns it off' },
  fileMode: {
    default: code(JSON.stringify(`0${DEFAULTS.fileMode.toString(8)}`)),
    doc: 'default file mode, as Kubernetes Secret volumes',
  },
  terminationLogPath: {
    default: code(DEFAULTS.terminationLogPath),
    doc: 'where init writes its one failure line',
  },
  logLevel: { default: code(DEFAULTS.logLevel), doc: LOG_LEVELS.map(code).join(', ') },
  reloadUrl: { default: NONE, doc: 'sidecar mode: a URL to `POST` after changes' },
  k8sSecret: { default: NONE, doc: '`{ name, namespace?, owners? }`' },
  localApi: { default: FALSE, doc: 'sidecar mode: serve the local API' },
  localApiPort: {
    default: code(DEFAULTS.localApiPort),
    doc: `${LIMITS.localApiPort.min} to ${LIMITS.localApiPort.max}, not \`httpPort\``,
  },
  secrets: {
    default: REQUIRED,
    doc: `the list below: ${LIMITS.secrets.min} to ${LIMITS.secrets.max} entries`,
  },
} as const satisfies Readonly<Record<(typeof CONFIG_FIELDS)[number], FieldDoc>>;

/** The fields of each entry of `secrets`, in the schema's order (SECRET_FIELDS). */
export const SECRET_FIELD_DOCS = {
  name: { default: REQUIRED, doc: 'file name under `outputDir`' },
  source: { default: code(SOURCES[0]), doc: either(SOURCES) },
  id: { default: REQUIRED, doc: 'what to read, by source (see below)' },
  tag: { default: NONE, doc: '`find` only: `key=value`, only secrets carrying that tag' },
  versionStage: {
    default: SECRET_ANNOTATIONS['version-stage-'].default,
    doc: SECRET_ANNOTATIONS['version-stage-'].doc,
  },
  versionId: { default: NONE, doc: SECRET_ANNOTATIONS['version-id-'].doc },
  key: { default: NONE, doc: SECRET_ANNOTATIONS['key-'].doc },
  template: { default: NONE, doc: SECRET_ANNOTATIONS['template-'].doc },
  format: { default: code(DEFAULTS.format), doc: FORMATS.map(code).join(', ') },
  mode: { default: code('fileMode'), doc: 'octal file mode, e.g. `"0400"`' },
  extract: { default: FALSE, doc: 'with `k8sSecret`: top-level JSON fields as Secret keys' },
} as const satisfies Readonly<Record<(typeof SECRET_FIELDS)[number], FieldDoc>>;
