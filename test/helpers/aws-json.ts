/**
 * One raw call in AWS's JSON protocol (Secrets Manager, SSM), for tests that look at the wire
 * answer itself (status, `x-amzn-errortype`, body) rather than what an SDK makes of it.
 */

/** A well-formed SigV4 header; the loopback endpoints parse it but do not check the signature. */
export const AWS_JSON_AUTH =
  'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00';

export interface AwsJsonAnswer {
  readonly status: number;
  readonly errorType: string | null;
  readonly body: Record<string, unknown>;
}

/** POSTs `input` to `url` as the operation `target` (`secretsmanager.GetSecretValue`). */
export async function awsJson(url: string, target: string, input: unknown): Promise<AwsJsonAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': target,
      authorization: AWS_JSON_AUTH,
    },
    body: JSON.stringify(input),
  });
  return {
    status: res.status,
    errorType: res.headers.get('x-amzn-errortype'),
    body: (await res.json()) as Record<string, unknown>,
  };
}
