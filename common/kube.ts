/**
 * Kubernetes' own naming rules, as the API server enforces them, for what the product writes:
 * Secret names (DNS-1123 subdomains) and Secret keys. One definition: the agent's configuration
 * schema, the Kubernetes Secret sink and the renderer of `extract` keys all ask these.
 */

/** Where the kubelet mounts a pod's service-account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The longest Secret name and the longest Secret key. */
export const MAX_DNS_SUBDOMAIN = 253;
export const MAX_SECRET_KEY = 253;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/** A DNS-1123 subdomain: dot-separated lower-case labels, each starting and ending alphanumeric. */
export function isDnsSubdomain(name: string): boolean {
  return name.length <= MAX_DNS_SUBDOMAIN && name.split('.').every((l) => DNS_LABEL.test(l));
}

/** What a DNS-1123 subdomain is, for error messages. */
export const DNS_SUBDOMAIN_RULE = `a lower-case DNS subdomain: labels of letters, digits and "-" separated by ".", each starting and ending with a letter or digit; at most ${MAX_DNS_SUBDOMAIN} characters`;

/** A key of a Secret's data: letters, digits, `-`, `_`, `.`; not `.` or `..`. */
export function isSecretKey(key: string): boolean {
  return key.length <= MAX_SECRET_KEY && SECRET_KEY.test(key) && key !== '.' && key !== '..';
}

export const SECRET_KEY_RULE = `letters, digits, "-", "_" and "."; not "." or ".."; at most ${MAX_SECRET_KEY} characters`;
