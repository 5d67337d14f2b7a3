/**
 * The webhook's one decision: an AdmissionReview (`admission.k8s.io/v1`) in, the response out.
 * The review is validated here, at the boundary; the server turns AdmissionReviewError into a
 * 400 and counts `result.outcome` in its metrics.
 */
import type { JsonObject } from '../common/json.ts';
import { denialMessage, injectPod, MAX_DENIAL_LENGTH, podDisplayName } from './inject.ts';
import type { Outcome } from './inject.ts';
import { encodePatch, type Base64 } from './patch.ts';
import { DEFAULT_INJECTOR_OPTIONS } from './plan.ts';
import type { InjectorOptions } from './plan.ts';
import { isRecord, JsonBoundError, objectShape, parsePartial } from './partial-json.ts';
import { parsePod, POD_SHAPE, PodShapeError } from './types.ts';
import { annotationPath, quote, type Problem } from './problems.ts';
import { concernsInjector } from './opt-in.ts';

export { DEFAULT_INJECTOR_OPTIONS };

export const ADMISSION_REVIEW_API_VERSION = 'admission.k8s.io/v1';
export type { InjectorOptions, Outcome };

/** A request that is not a well-formed AdmissionReview: the server answers 400. */
export class AdmissionReviewError extends Error {
  readonly code = 'ADMISSION_REVIEW_INVALID';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AdmissionReviewError';
  }
}

export function isAdmissionReviewError(err: unknown): err is AdmissionReviewError {
  return err instanceof AdmissionReviewError;
}

/** The parts of `AdmissionReview.request` the injector reads. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly resource?: {
    readonly group: string;
    readonly version: string;
    readonly resource: string;
  };
  readonly subResource?: string;
  readonly operation?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly object?: unknown;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: 'JSONPatch';
  readonly patch?: Base64;
  readonly status?: { readonly code: number; readonly message: string };
  readonly warnings?: readonly string[];
}

export interface AdmissionReviewResponse {
  readonly apiVersion: 'admission.k8s.io/v1';
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

export interface AdmissionResult {
  readonly outcome: Outcome;
  /** Why, in a word, for logs: `injected`, `not-opted-in`, `already-injected`, `not-a-pod`, `not-create`, `invalid-annotations`. */
  readonly reason: string;
  /** The body to answer with. */
  readonly review: AdmissionReviewResponse;
  /** The pod's `namespace/name`, when the request was about a pod. */
  readonly pod?: string;
  readonly problems?: readonly Problem[];
}

/** Validates the review (AdmissionReviewError when malformed), then decides. */
export function admit(
  review: unknown,
  options: InjectorOptions = DEFAULT_INJECTOR_OPTIONS,
): AdmissionResult {
  return admitRequest(parseAdmissionReview(review), options);
}

/** The decision on a request whose envelope was validated. */
export function admitRequest(
  request: AdmissionRequest,
  options: InjectorOptions = DEFAULT_INJECTOR_OPTIONS,
): AdmissionResult {
  const respond = (response: Omit<AdmissionResponse, 'uid'>): AdmissionReviewResponse => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: request.uid, ...response },
  });
  if (!isPodRequest(request))
    return { outcome: 'skipped', reason: 'not-a-pod', review: respond({ allowed: true }) };
  if (request.operation !== 'CREATE')
    return { outcome: 'skipped', reason: 'not-create', review: respond({ allowed: true }) };
  if (request.object === undefined || request.object === null)
    throw new AdmissionReviewError('request.object is missing');
  // A pod that did not opt in passes untouched, whatever else is wrong with it.
  if (!mayOptIn(request.object))
    return { outcome: 'skipped', reason: 'not-opted-in', review: respond({ allowed: true }) };
  const pod = podOf(request);
  const name = podDisplayName(pod, request.namespace);
  const result = injectPod(pod, options);
  switch (result.outcome) {
    case 'skipped':
      return {
        outcome: 'skipped',
        reason: result.reason,
        pod: name,
        review: respond({ allowed: true }),
      };
    case 'denied': {
      const message = denialMessage(`pod ${name}`, result.problems);
      const review = respond({ allowed: false, status: { code: 400, message } });
      return {
        outcome: 'denied',
        reason: 'invalid-annotations',
        pod: name,
        review,
        problems: result.problems,
      };
    }
    case 'injected': {
      const patch = encodePatch(result.patch);
      if (patch.length > MAX_PATCH_BYTES) return tooLarge(name, patch.length, respond);
      const warnings = result.warnings.length > 0 ? { warnings: result.warnings } : {};
      const review = respond({ allowed: true, patchType: 'JSONPatch', patch, ...warnings });
      return { outcome: 'injected', reason: 'injected', pod: name, review };
    }
  }
}

/**
 * The longest request uid accepted: the API server writes a 36-character UUID, and every
 * answer carries the uid back, so its length bounds every answer's.
 */
export const MAX_UID_LENGTH = 128;

/**
 * The largest patch answered (base64): the patch grows with what the injector adds (its
 * containers, and an env var per `env-` annotation and a mount in each target container),
 * never with the rest of the pod; this bounds it whatever the annotations and the number of
 * containers. A pod whose patch would be larger is denied, saying so.
 */
export const MAX_PATCH_BYTES = 4 * 1024 * 1024;

/** The longest error an answer says (a 400 for a malformed review): as long as a denial. */
export const MAX_ERROR_ANSWER = MAX_DENIAL_LENGTH;

/**
 * The largest answer to any review: the patch or the denial, the uid, the warnings (a few fixed
 * sentences) and the envelope.
 */
export const MAX_ANSWER_BYTES = MAX_PATCH_BYTES + MAX_DENIAL_LENGTH + MAX_UID_LENGTH + 2048;

function tooLarge(
  name: string,
  bytes: number,
  respond: (response: Omit<AdmissionResponse, 'uid'>) => AdmissionReviewResponse,
): AdmissionResult {
  const problems: Problem[] = [
    {
      kind: 'too-long',
      path: annotationPath('inject'),
      message: `the patch would be ${bytes} bytes, more than the injector's ${MAX_PATCH_BYTES}: fewer env- annotations or target containers (secrets-agent.io/containers)`,
    },
  ];
  const message = denialMessage(`pod ${name}`, problems);
  return {
    outcome: 'denied',
    reason: 'invalid-annotations',
    pod: name,
    review: respond({ allowed: false, status: { code: 400, message } }),
    problems,
  };
}

/**
 * The review as JSON text, as `JSON.stringify` writes it, without scanning the patch for
 * characters to escape: it is base64, which has none, and most of the answer.
 */
export function reviewJson(review: AdmissionReviewResponse): string {
  const patch = review.response.patch;
  if (patch === undefined) return JSON.stringify(review);
  const text = JSON.stringify({ ...review, response: { ...review.response, patch: '' } });
  // The patch member itself: no other key is "patch", and in a JSON string a quote is escaped.
  const at = text.indexOf(EMPTY_PATCH) + EMPTY_PATCH.length - 1;
  return `${text.slice(0, at)}${patch}${text.slice(at)}`;
}

const EMPTY_PATCH = '"patch":""';

type Obj = JsonObject;

/** The parts of the review the injector reads: the request's resource and its pod (POD_SHAPE). */
const REVIEW_SHAPE = objectShape({
  request: objectShape({ resource: objectShape({}), object: POD_SHAPE }),
});

/**
 * An AdmissionReview's JSON text, read where the injector reads it (partial-json.ts), then
 * validated as `parseAdmissionReview` does. Throws JsonSyntaxError when the text is not JSON,
 * AdmissionReviewError when it is not a review.
 */
export function readAdmissionReview(text: string): AdmissionRequest {
  let review: unknown;
  try {
    review = parsePartial(text, REVIEW_SHAPE);
  } catch (err) {
    // A list past its bound, refused before it was built: the pod is refused whole, by name.
    if (err instanceof JsonBoundError)
      throw new AdmissionReviewError(`${err.message} (the injector's bound; see docs/limits.md)`, {
        cause: err,
      });
    throw err;
  }
  return parseAdmissionReview(review);
}

/** A value named in a message: a string quoted short, anything else by its type (never built). */
function shown(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (value === undefined || value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/**
 * The one parser of the AdmissionReview envelope (`admission.k8s.io/v1`): apiVersion, kind, and
 * the request fields the injector reads, each checked for its type. Throws AdmissionReviewError.
 */
export function parseAdmissionReview(review: unknown): AdmissionRequest {
  if (!isRecord(review))
    throw new AdmissionReviewError('the body must be an AdmissionReview object');
  if (review['apiVersion'] !== ADMISSION_REVIEW_API_VERSION) {
    throw new AdmissionReviewError(
      `apiVersion must be ${ADMISSION_REVIEW_API_VERSION}; got ${shown(review['apiVersion'])}`,
    );
  }
  if (review['kind'] !== 'AdmissionReview') {
    throw new AdmissionReviewError(`kind must be AdmissionReview; got ${shown(review['kind'])}`);
  }
  const request = review['request'];
  if (!isRecord(request)) throw new AdmissionReviewError('request is missing');
  return parseRequest(request);
}

function parseRequest(request: Obj): AdmissionRequest {
  const uid = request['uid'];
  if (typeof uid !== 'string' || uid === '')
    throw new AdmissionReviewError('request.uid is missing');
  if (uid.length > MAX_UID_LENGTH)
    throw new AdmissionReviewError(`request.uid is longer than ${MAX_UID_LENGTH} characters`);
  const text = (key: string): Partial<Record<string, string>> => {
    const value = request[key];
    if (value === undefined) return {};
    if (typeof value !== 'string')
      throw new AdmissionReviewError(`request.${key} must be a string`);
    return { [key]: value };
  };
  const resource = parseResource(request['resource']);
  return {
    uid,
    ...(resource === undefined ? {} : { resource }),
    ...text('operation'),
    ...text('namespace'),
    ...text('name'),
    ...text('subResource'),
    ...(request['object'] === undefined ? {} : { object: request['object'] }),
  };
}

function parseResource(raw: unknown): AdmissionRequest['resource'] {
  if (raw === undefined) return undefined;
  const field = (obj: Obj, key: string): string => (typeof obj[key] === 'string' ? obj[key] : '');
  if (!isRecord(raw) || typeof raw['resource'] !== 'string') {
    throw new AdmissionReviewError('request.resource must name a resource');
  }
  return { group: field(raw, 'group'), version: field(raw, 'version'), resource: raw['resource'] };
}

function mayOptIn(object: unknown): boolean {
  const annotations =
    isRecord(object) && isRecord(object['metadata'])
      ? object['metadata']['annotations']
      : undefined;
  return concernsInjector(annotations);
}

function isPodRequest(request: AdmissionRequest): boolean {
  const r = request.resource;
  return (
    r !== undefined && r.group === '' && r.resource === 'pods' && (request.subResource ?? '') === ''
  );
}

function podOf(request: AdmissionRequest): ReturnType<typeof parsePod> {
  try {
    return parsePod(request.object);
  } catch (err) {
    if (err instanceof PodShapeError)
      throw new AdmissionReviewError(`request.object: ${err.message}`, { cause: err });
    throw err;
  }
}
