/**
 * A plain `fetch` client for the loopback API server's HTTP mode: bearer token (the admin token
 * unless told otherwise, `null` for none), a JSON body, and the reply parsed but left `unknown`.
 */
export interface KubeReply {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: unknown;
}

export interface KubeCall {
  /** A bearer token; `null` sends no Authorization header. */
  readonly token?: string | null;
  /** Serialized as JSON. */
  readonly body?: unknown;
  /** Sent as is, instead of `body`. */
  readonly raw?: string;
  /** Default `application/json` when there is a body. */
  readonly contentType?: string;
}

export async function kubeFetch(
  baseUrl: string,
  defaultToken: string,
  method: string,
  path: string,
  req: KubeCall = {},
): Promise<KubeReply> {
  const headers: Record<string, string> = {};
  const token = req.token === undefined ? defaultToken : req.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const body = req.raw ?? (req.body === undefined ? undefined : JSON.stringify(req.body));
  if (body !== undefined) headers['content-type'] = req.contentType ?? 'application/json';
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    body: await res.json(),
  };
}
