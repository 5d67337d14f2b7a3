/**
 * Secret validation as pkg/apis/core/validation ValidateSecret / ValidateSecretUpdate and
 * apimachinery's ValidateObjectMeta do it, with their messages. Values are never echoed except
 * where the real API echoes them (keys, names, label values).
 */
import type { FieldError } from './status.ts';

export const MAX_SECRET_SIZE = 1024 * 1024;
export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;
const DNS1123_SUBDOMAIN_MAX = 253;
const LABEL_MAX = 63;

/** metav1.OwnerReference. */
export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

/** apimachinery's ValidateOwnerReferences, with its messages. */
function validateOwnerReferences(refs: readonly OwnerReference[]): FieldError[] {
  const errs: FieldError[] = [];
  const field = 'metadata.ownerReferences';
  const controllers: string[] = [];
  for (const r of refs) {
    const version = r.apiVersion.includes('/') ? r.apiVersion.split('/')[1] : r.apiVersion;
    if (version === '')
      errs.push({
        type: 'Invalid',
        field: `${field}.apiVersion`,
        value: r.apiVersion,
        detail: 'version must not be empty',
      });
    if (r.kind === '')
      errs.push({
        type: 'Invalid',
        field: `${field}.kind`,
        value: r.kind,
        detail: 'kind must not be empty',
      });
    if (r.name === '')
      errs.push({
        type: 'Invalid',
        field: `${field}.name`,
        value: r.name,
        detail: 'name must not be empty',
      });
    if (r.uid === '')
      errs.push({
        type: 'Invalid',
        field: `${field}.uid`,
        value: r.uid,
        detail: 'uid must not be empty',
      });
    if (r.controller === true) controllers.push(r.name);
  }
  if (controllers.length > 1)
    errs.push({
      type: 'Invalid',
      field,
      value: controllers.join(', '),
      detail: `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(' and ')}`,
    });
  return errs;
}

/** The fields validation looks at: data already decoded to bytes, stringData merged in. */
export interface SecretShape {
  readonly name: string;
  readonly uid: string;
  readonly type: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly ownerReferences: readonly OwnerReference[];
  readonly data: Readonly<Record<string, Buffer>>;
  readonly immutable: boolean | undefined;
}

/** validation.RegexError, double spaces included. */
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`;
}

const maxLen = (n: number): string => `must be no more than ${n} characters`;

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_SUBDOMAIN}$`);

export function isDns1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (Buffer.byteLength(value) > DNS1123_SUBDOMAIN_MAX) errs.push(maxLen(DNS1123_SUBDOMAIN_MAX));
  if (!DNS1123_SUBDOMAIN_RE.test(value))
    errs.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        DNS1123_SUBDOMAIN,
        'example.com',
      ),
    );
  return errs;
}

const CONFIG_KEY = '[-._a-zA-Z0-9]+';
const CONFIG_KEY_RE = new RegExp(`^${CONFIG_KEY}$`);

export function isConfigMapKey(value: string): string[] {
  const errs: string[] = [];
  if (Buffer.byteLength(value) > DNS1123_SUBDOMAIN_MAX) errs.push(maxLen(DNS1123_SUBDOMAIN_MAX));
  if (!CONFIG_KEY_RE.test(value))
    errs.push(
      regexError(
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        CONFIG_KEY,
        'key.name',
        'KEY_NAME',
        'key-name',
      ),
    );
  if (value === '.') errs.push("must not be '.'");
  else if (value === '..') errs.push("must not be '..'");
  else if (value.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

const LABEL_KEY = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_KEY_RE = new RegExp(`^${LABEL_KEY}$`);
const LABEL_KEY_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/** validation.IsQualifiedName (content.IsLabelKey). */
export function isQualifiedName(value: string): string[] {
  const slash = value.indexOf('/');
  const errs: string[] = [];
  let name = value;
  if (slash !== -1) {
    const prefix = value.slice(0, slash);
    name = value.slice(slash + 1);
    if (name.includes('/'))
      return [
        `a valid label key ${regexError(LABEL_KEY_MSG, LABEL_KEY, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
      ];
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else errs.push(...isDns1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > LABEL_MAX) errs.push(`name part ${maxLen(LABEL_MAX)}`);
  if (!LABEL_KEY_RE.test(name))
    errs.push(`name part ${regexError(LABEL_KEY_MSG, LABEL_KEY, 'MyName', 'my.name', '123-abc')}`);
  return errs;
}

const LABEL_VALUE = `(${LABEL_KEY})?`;
const LABEL_VALUE_RE = new RegExp(`^${LABEL_VALUE}$`);

export function isLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (value.length > LABEL_MAX) errs.push(maxLen(LABEL_MAX));
  if (!LABEL_VALUE_RE.test(value))
    errs.push(
      regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LABEL_VALUE,
        'MyValue',
        'my_value',
        '12345',
      ),
    );
  return errs;
}

const sorted = <T>(record: Readonly<Record<string, T>>): [string, T][] =>
  Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function validateObjectMeta(s: SecretShape): FieldError[] {
  const errs: FieldError[] = [];
  if (s.name.length === 0)
    errs.push({
      type: 'Required',
      field: 'metadata.name',
      detail: 'name or generateName is required',
    });
  else
    for (const detail of isDns1123Subdomain(s.name))
      errs.push({ type: 'Invalid', field: 'metadata.name', value: s.name, detail });
  for (const [key, value] of sorted(s.labels)) {
    for (const detail of isQualifiedName(key))
      errs.push({ type: 'Invalid', field: 'metadata.labels', value: key, detail });
    for (const detail of isLabelValue(value))
      errs.push({ type: 'Invalid', field: 'metadata.labels', value, detail });
  }
  let annotationBytes = 0;
  for (const [key, value] of sorted(s.annotations)) {
    for (const detail of isQualifiedName(key.toLowerCase()))
      errs.push({ type: 'Invalid', field: 'metadata.annotations', value: key, detail });
    annotationBytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (annotationBytes > TOTAL_ANNOTATION_SIZE_LIMIT)
    errs.push({
      type: 'TooLong',
      field: 'metadata.annotations',
      detail: `must have at most ${TOTAL_ANNOTATION_SIZE_LIMIT} bytes`,
    });
  errs.push(...validateOwnerReferences(s.ownerReferences));
  return errs;
}

/** Keys each built-in Secret type requires (ValidateSecret's switch on type). */
function validateType(s: SecretShape): FieldError[] {
  const required = (key: string): FieldError => ({
    type: 'Required',
    field: `data[${key}]`,
    detail: '',
  });
  switch (s.type) {
    case 'kubernetes.io/tls':
      return ['tls.crt', 'tls.key'].filter((k) => s.data[k] === undefined).map(required);
    case 'kubernetes.io/basic-auth':
      return s.data.username === undefined && s.data.password === undefined
        ? [required('username'), required('password')]
        : [];
    case 'kubernetes.io/ssh-auth':
      return (s.data['ssh-privatekey']?.length ?? 0) === 0 ? [required('ssh-privatekey')] : [];
    case 'kubernetes.io/dockerconfigjson':
      return s.data['.dockerconfigjson'] === undefined ? [required('.dockerconfigjson')] : [];
    default:
      return [];
  }
}

export function validateSecret(s: SecretShape): FieldError[] {
  const errs = validateObjectMeta(s);
  let total = 0;
  for (const [key, value] of sorted(s.data)) {
    for (const detail of isConfigMapKey(key))
      errs.push({ type: 'Invalid', field: `data[${key}]`, value: key, detail });
    total += value.length;
  }
  if (total > MAX_SECRET_SIZE)
    errs.push({
      type: 'TooLong',
      field: 'data',
      detail: `must have at most ${MAX_SECRET_SIZE} bytes`,
    });
  errs.push(...validateType(s));
  return errs;
}

function sameData(a: SecretShape['data'], b: SecretShape['data']): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    const other = b[k];
    const mine = a[k];
    return other !== undefined && mine !== undefined && mine.equals(other);
  });
}

export function sameSecretData(a: SecretShape, b: SecretShape): boolean {
  return sameData(a.data, b.data);
}

const IMMUTABLE = 'field is immutable when `immutable` is set';

/** ValidateSecretUpdate: uid and type are immutable; an immutable Secret keeps its data. */
export function validateSecretUpdate(next: SecretShape, old: SecretShape): FieldError[] {
  const errs: FieldError[] = [];
  if (next.uid !== old.uid)
    errs.push({
      type: 'Invalid',
      field: 'metadata.uid',
      value: next.uid,
      detail: 'field is immutable',
    });
  if (next.type !== old.type)
    errs.push({ type: 'Invalid', field: 'type', value: next.type, detail: 'field is immutable' });
  if (old.immutable === true) {
    if (next.immutable !== true)
      errs.push({ type: 'Forbidden', field: 'immutable', detail: IMMUTABLE });
    if (!sameData(next.data, old.data))
      errs.push({ type: 'Forbidden', field: 'data', detail: IMMUTABLE });
  }
  return [...errs, ...validateSecret(next)];
}
