/**
 * The lean client's SigV4 signer: AWS's published test vectors (aws-sig-v4-test-suite:
 * get-vanilla, get-vanilla-query-order-key-case, post-vanilla), and generated requests signed
 * alike by the SDK's own signer (@smithy/signature-v4), header for header.
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import fc from 'fast-check';
import t from 'tap';
import { signRequest, type Credentials } from '../agent/source/lean/sigv4.ts';

/** The suite's credentials, scope and time. */
const SUITE = {
  credentials: {
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  },
  region: 'us-east-1',
  service: 'service',
  date: new Date('2015-08-30T12:36:00Z'),
};
const SCOPE = 'AKIDEXAMPLE/20150830/us-east-1/service/aws4_request';

t.test("AWS's test suite vectors", (t) => {
  const cases: [string, 'GET' | 'POST', string, string][] = [
    ['get-vanilla', 'GET', '', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
    [
      'get-vanilla-query-order-key-case',
      'GET',
      'Param2=value2&Param1=value1',
      'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    ],
    [
      'post-vanilla',
      'POST',
      '',
      '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b',
    ],
  ];
  for (const [name, method, query, signature] of cases) {
    const headers = signRequest(
      { method, host: 'example.amazonaws.com', path: '/', query, headers: {}, body: '' },
      SUITE,
    );
    t.equal(headers['x-amz-date'], '20150830T123600Z', name);
    t.equal(
      headers['authorization'],
      `AWS4-HMAC-SHA256 Credential=${SCOPE}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
      name,
    );
  }
  t.end();
});

function bytes(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** The SDK's hash interface over node:crypto. */
class Sha256 {
  readonly #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

const token = fc.stringMatching(/^[A-Za-z0-9_.~-]{1,12}$/);
const segment = fc.stringMatching(/^[A-Za-z0-9 _.~+*!'()-]{1,10}$/);
const headerName = fc.stringMatching(/^x-[a-z0-9-]{1,10}$/);
const headerValue = fc.stringMatching(/^[ -~]{0,20}$/);

const requests = fc.record({
  method: fc.constantFrom('GET', 'POST'),
  host: fc.constantFrom('secretsmanager.us-east-1.amazonaws.com', '127.0.0.1:4566', 'localhost'),
  segments: fc.array(segment, { maxLength: 4 }),
  trailing: fc.boolean(),
  query: fc.uniqueArray(fc.tuple(token, fc.string({ maxLength: 8 })), {
    maxLength: 4,
    selector: ([name]) => name,
  }),
  headers: fc.uniqueArray(fc.tuple(headerName, headerValue), {
    maxLength: 4,
    selector: ([name]) => name,
  }),
  body: fc.string({ maxLength: 200 }),
  region: fc.constantFrom('us-east-1', 'eu-west-1', 'us-gov-west-1', 'cn-north-1'),
  service: fc.constantFrom('secretsmanager', 'sts', 'service'),
  accessKeyId: token,
  secretAccessKey: fc.string({ minLength: 1, maxLength: 40 }),
  sessionToken: fc.option(fc.stringMatching(/^[A-Za-z0-9+/=]{1,64}$/), { nil: undefined }),
  date: fc.date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }),
});

t.test('generated requests: signed as the SDK signs them', async (t) => {
  await fc.assert(
    fc.asyncProperty(requests, async (r) => {
      const path = `/${r.segments.map(encodeURIComponent).join('/')}${r.trailing ? '/' : ''}`;
      const query = r.query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
      const headers = Object.fromEntries(r.headers);
      const credentials: Credentials = {
        accessKeyId: r.accessKeyId,
        secretAccessKey: r.secretAccessKey,
        ...(r.sessionToken === undefined ? {} : { sessionToken: r.sessionToken }),
      };
      const ours = signRequest(
        { method: r.method, host: r.host, path, query, headers, body: r.body },
        { region: r.region, service: r.service, credentials, date: r.date },
      );
      const sdk = new SignatureV4({
        credentials: {
          accessKeyId: r.accessKeyId,
          secretAccessKey: r.secretAccessKey,
          ...(r.sessionToken === undefined ? {} : { sessionToken: r.sessionToken }),
        },
        region: r.region,
        service: r.service,
        sha256: Sha256,
        applyChecksum: false,
      });
      const [hostname = '', port] = r.host.split(':');
      const signed = await sdk.sign(
        {
          method: r.method,
          protocol: 'https:',
          hostname,
          ...(port === undefined ? {} : { port: Number(port) }),
          path,
          query: Object.fromEntries(r.query),
          headers: { ...headers, host: r.host },
          body: r.body,
        },
        { signingDate: r.date },
      );
      t.equal(ours['authorization'], signed.headers['authorization']);
      t.equal(ours['x-amz-date'], signed.headers['x-amz-date']);
      t.equal(ours['x-amz-security-token'], signed.headers['x-amz-security-token']);
    }),
    { numRuns: 200 },
  );
});
