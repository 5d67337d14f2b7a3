'use strict';
/**
 * The floor under the init agent's start-up (bench/startup.ts): the least a Node program does
 * for the same job, as a pod would do it. It reads the projected web identity token, trades it
 * for credentials with STS AssumeRoleWithWebIdentity, fetches every secret with its own signed
 * GetSecretValue (all at once, over kept-alive connections), writes each SecretString to a file
 * and exits. No configuration, no rendering, no retries, no logs, no metrics: whatever the agent
 * takes above this is its own; what this takes is Node's and the job's.
 *
 * With --batch it reads as the agent does, BatchGetSecretValue with up to 20 ids a call, so
 * 20 secrets are one call instead of twenty.
 *
 * Plain CommonJS with only Node's own modules, so that no loader, no type stripping and no
 * bundle stands between Node's start and the work.
 *
 *   node bench/startup-floor.cjs [--batch] OUTPUT_DIR SECRET_ID...
 *
 * Reads AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_REGION, AWS_ENDPOINT_URL_STS and
 * AWS_ENDPOINT_URL_SECRETS_MANAGER, as the injected agent does.
 */
const http = require('node:http');
// A pod talks TLS to AWS, so the floor pays for loading TLS too, whatever the endpoint here.
const https = require('node:https');
const { createHash, createHmac } = require('node:crypto');
const { mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const ENV = [
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_REGION',
  'AWS_ENDPOINT_URL_STS',
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
];
const JSON_1_1 = 'application/x-amz-json-1.1';

/** One agent per scheme: every request of the run shares its kept-alive connections. */
const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

/** Resolves with the answer's status and whole body; rejects on a transport error. */
function post(url, headers, body) {
  const agent = agents[url.protocol];
  if (agent === undefined) throw new Error(`unsupported endpoint scheme ${url.protocol}`);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { method: 'POST', agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The text of the first <name> element; STS's answers carry no attributes on these. */
function element(xml, name) {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m === null ? undefined : m[1];
}

/** AssumeRoleWithWebIdentity over the query protocol: a form POST, unsigned (the token proves). */
async function assumeRole(env) {
  const body = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: env.AWS_ROLE_ARN,
    RoleSessionName: `floor-${Date.now()}`,
    WebIdentityToken: readFileSync(env.AWS_WEB_IDENTITY_TOKEN_FILE, 'utf8').trim(),
  }).toString();
  const answer = await post(
    new URL(env.AWS_ENDPOINT_URL_STS),
    {
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': Buffer.byteLength(body),
    },
    body,
  );
  const credentials = {
    accessKeyId: element(answer.body, 'AccessKeyId'),
    secretAccessKey: element(answer.body, 'SecretAccessKey'),
    sessionToken: element(answer.body, 'SessionToken'),
  };
  if (answer.status !== 200 || credentials.accessKeyId === undefined) {
    const code = element(answer.body, 'Code') ?? 'no credentials in the answer';
    throw new Error(`STS AssumeRoleWithWebIdentity: HTTP ${answer.status}: ${code}`);
  }
  return credentials;
}

const sha256Hex = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();

/**
 * SigV4 headers for a POST of body to url: the canonical request (its headers sorted by name,
 * no query, the endpoint's path taken as already canonical), the string to sign and the key
 * derived for the day, region and service.
 */
function signedHeaders(url, body, extra, scope) {
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers = { ...extra, host: url.host, 'x-amz-date': amzDate };
  if (scope.credentials.sessionToken !== undefined)
    headers['x-amz-security-token'] = scope.credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonical = [
    'POST',
    url.pathname,
    '',
    names.map((n) => `${n}:${headers[n]}\n`).join(''),
    names.join(';'),
    sha256Hex(body),
  ].join('\n');
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, credentialScope, sha256Hex(canonical)].join('\n');
  let key = hmac(`AWS4${scope.credentials.secretAccessKey}`, day);
  for (const part of [scope.region, scope.service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization =
    `AWS4-HMAC-SHA256 Credential=${scope.credentials.accessKeyId}/${credentialScope}, ` +
    `SignedHeaders=${names.join(';')}, Signature=${signature}`;
  headers['content-length'] = Buffer.byteLength(body);
  return headers;
}

/**
 * One Secrets Manager call (awsJson1_1): the answer's object, or an error naming the call and
 * the error's type. An answer's body is never echoed (JSON.parse's message quotes it): it may
 * hold a value.
 */
async function callSecretsManager(url, operation, input, scope) {
  const body = JSON.stringify(input);
  const headers = signedHeaders(
    url,
    body,
    { 'content-type': JSON_1_1, 'x-amz-target': `secretsmanager.${operation}` },
    scope,
  );
  const answer = await post(url, headers, body);
  let parsed;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    throw new Error(`${operation}: HTTP ${answer.status}: the answer is not JSON`);
  }
  if (answer.status !== 200) {
    const type = typeof parsed.__type === 'string' ? parsed.__type : 'no error type';
    throw new Error(`${operation}: HTTP ${answer.status}: ${type}`);
  }
  return parsed;
}

/** The secret's SecretString, with one GetSecretValue. */
async function getSecretString(url, id, scope) {
  let answer;
  try {
    answer = await callSecretsManager(url, 'GetSecretValue', { SecretId: id }, scope);
  } catch (err) {
    throw new Error(`${id}: ${err.message}`, { cause: err });
  }
  if (typeof answer.SecretString !== 'string') throw new Error(`${id}: no SecretString`);
  return answer.SecretString;
}

/** BatchGetSecretValue takes at most this many ids a call. */
const BATCH_IDS = 20;

/**
 * The SecretStrings of ids (by name: the ids here are names), as the agent reads them:
 * BatchGetSecretValue, BATCH_IDS a call, the calls at once.
 */
async function batchGetSecretStrings(url, ids, scope) {
  const chunks = [];
  for (let i = 0; i < ids.length; i += BATCH_IDS) chunks.push(ids.slice(i, i + BATCH_IDS));
  const answers = await Promise.all(
    chunks.map((chunk) =>
      callSecretsManager(url, 'BatchGetSecretValue', { SecretIdList: chunk }, scope),
    ),
  );
  const values = new Map();
  for (const answer of answers) {
    const failed = (answer.Errors ?? []).map((e) => `${e.SecretId}: ${e.ErrorCode}`);
    if (failed.length > 0) throw new Error(`BatchGetSecretValue: ${failed.join(', ')}`);
    for (const entry of answer.SecretValues ?? []) values.set(entry.Name, entry.SecretString);
  }
  return ids.map((id) => {
    const value = values.get(id);
    if (typeof value !== 'string') throw new Error(`${id}: no SecretString in the answer`);
    return value;
  });
}

/** A file name for a secret id: its characters outside [A-Za-z0-9._-] made `_`. */
const fileNameOf = (id) => id.replace(/[^\w.-]/g, '_');

const USAGE = 'usage: node bench/startup-floor.cjs [--batch] OUTPUT_DIR SECRET_ID...';

async function main(argv) {
  const batch = argv[0] === '--batch';
  const [outputDir, ...ids] = batch ? argv.slice(1) : argv;
  if (outputDir === undefined || outputDir.startsWith('-') || ids.length === 0)
    throw new Error(USAGE);
  const missing = ENV.filter((name) => !process.env[name]);
  if (missing.length > 0) throw new Error(`not set: ${missing.join(', ')}`);
  const env = Object.fromEntries(ENV.map((name) => [name, process.env[name]]));
  const credentials = await assumeRole(env);
  const scope = { credentials, region: env.AWS_REGION, service: 'secretsmanager' };
  const url = new URL(env.AWS_ENDPOINT_URL_SECRETS_MANAGER);
  mkdirSync(outputDir, { recursive: true });
  const write = (id, value) =>
    writeFileSync(join(outputDir, fileNameOf(id)), value, { mode: 0o600 });
  if (batch) {
    const values = await batchGetSecretStrings(url, ids, scope);
    ids.forEach((id, i) => write(id, values[i]));
    return;
  }
  await Promise.all(ids.map(async (id) => write(id, await getSecretString(url, id, scope))));
}

main(process.argv.slice(2)).then(
  () => {
    for (const agent of Object.values(agents)) agent.destroy();
  },
  (err) => {
    process.stderr.write(`startup-floor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
