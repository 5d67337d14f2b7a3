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
