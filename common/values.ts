/** Value rules of the configuration schema (common/config.ts) that stand on their own. */

/**
 * The reload URL must stay inside the pod: an http(s) URL on a loopback address. Anything else
 * would send the names of changed files to another host.
 */
export function isPodLocalUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback =
    host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  return (url.protocol === 'http:' || url.protocol === 'https:') && loopback;
}

/** Octal file modes: "0400", "400", "0o400". */
export function parseFileMode(text: string): number | undefined {
  const match = /^(?:0o?)?([0-7]{3})$/.exec(text.trim());
  return match?.[1] === undefined ? undefined : Number.parseInt(match[1], 8);
}

/** The one spelling of a yes/no in text (annotations, query strings): "true" or "false". */
export function parseBooleanText(text: string): boolean | undefined {
  return text === 'true' ? true : text === 'false' ? false : undefined;
}

/** What parseBooleanText says of a value it does not read. */
export function booleanProblem(value: string): string {
  return `must be "true" or "false"; got ${quote(value)}`;
}

/** AWS region names; common/region.ts resolves which one applies. */
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The most of a string value a message or a problem shows. */
const SHOWN_LENGTH = 100;

/** A value quoted in a message, shortened: values in messages are bounded. */
export function quote(value: unknown): string {
  // A long string is cut before it is escaped: the cost follows what is shown, not the value.
  const shown =
    typeof value === 'string' && value.length > SHOWN_LENGTH ? value.slice(0, SHOWN_LENGTH) : value;
  const text = JSON.stringify(shown) ?? String(shown);
  return text.length > 80 ? `${text.slice(0, 77)}…"` : text;
}

/** The region rule, its message giving `example`. */
export function region(example: string): (value: string) => string | undefined {
  return (value) =>
    REGION.test(value)
      ? undefined
      : `must be an AWS region such as ${example}; got ${quote(value)}`;
}

/** What is wrong with a region name (also the injector's default region), or undefined. */
export const regionProblem = region('us-east-1');

/**
 * The HTTPS proxy for the agent's AWS calls: `http://host:port` (or `https://`), nothing
 * else. No user or password: the address travels in the pod spec, which is no place for a
 * credential; no path, which a proxy would ignore.
 */
export function proxyAddressProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be a proxy URL such as http://proxy.internal:3128; got ${quote(value)}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `must be an http:// or https:// proxy URL; got ${quote(value)}`;
  if (url.username !== '' || url.password !== '')
    return 'must not hold a user or password: the address is part of the pod spec';
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '')
    return `must be the proxy's scheme, host and port only; got ${quote(value)}`;
  return undefined;
}

/**
 * The value a problem is about, as the author wrote it (never a secret's value: a pod's
 * annotations and the agent's configuration hold none): a string cut as `quote` cuts it, so
 * `quote(badValue)` is what a message shows.
 */
export type BadValue = string | number | boolean;

/** `value` as a problem keeps it: scalars only (an object is not shown), strings shortened. */
export function badValue(value: unknown): BadValue | undefined {
  if (typeof value === 'string') return value.slice(0, SHOWN_LENGTH);
  return typeof value === 'number' || typeof value === 'boolean' ? value : undefined;
}
