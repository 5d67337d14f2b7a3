/**
 * Kubernetes `Status` failure bodies, built the way k8s.io/apimachinery/pkg/api/errors builds
 * them (NewNotFound, NewConflict, NewForbidden, NewInvalid, …): same reasons, codes, messages
 * and `details`, so a client that branches on `reason`/`code` sees what a real API server sends.
 */

/** One field error, as k8s.io/apimachinery/pkg/util/validation/field.Error. */
export interface FieldError {
  readonly type: FieldErrorType;
  readonly field: string;
  /** The offending value, printed quoted; `undefined` for Required/Forbidden/TooLong. */
  readonly value?: string;
  readonly detail: string;
}

export const FIELD_ERROR_TYPES = {
  Required: 'FieldValueRequired',
  Invalid: 'FieldValueInvalid',
  Forbidden: 'FieldValueForbidden',
  TooLong: 'FieldValueTooLong',
} as const;
export type FieldErrorType = keyof typeof FIELD_ERROR_TYPES;

const TYPE_TEXT: Readonly<Record<FieldErrorType, string>> = {
  Required: 'Required value',
  Invalid: 'Invalid value',
  Forbidden: 'Forbidden',
  TooLong: 'Too long',
};

export interface StatusCause {
  readonly reason?: string;
  readonly message: string;
  readonly field?: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
}

export interface Status {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure' | 'Success';
  readonly message?: string;
  readonly reason?: string;
  readonly details?: StatusDetails;
  readonly code: number;
}

/** The resource these errors are about (`qualifiedResource.String()` for the core group). */
const RESOURCE = 'secrets';

function failure(
  code: number,
  reason: string | undefined,
  message: string,
  details?: StatusDetails,
): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    ...(reason === undefined ? {} : { reason }),
    ...(details === undefined ? {} : { details }),
    code,
  };
}

export function notFound(name: string, resource = RESOURCE): Status {
  return failure(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
}

export function alreadyExists(name: string, resource = RESOURCE): Status {
  return failure(409, 'AlreadyExists', `${resource} "${name}" already exists`, {
    name,
    kind: resource,
  });
}

export const MODIFIED =
  'the object has been modified; please apply your changes to the latest version and try again';

export function conflict(name: string, cause = MODIFIED): Status {
  return failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${RESOURCE} "${name}": ${cause}`,
    {
      name,
      kind: RESOURCE,
    },
  );
}

/** The RBAC authorizer's denial, wrapped by NewForbidden (no name for create/list). */
export function forbidden(
  user: string,
  verb: string,
  namespace: string,
  name?: string,
  resource = RESOURCE,
): Status {
  const why = `User "${user}" cannot ${verb} resource "${resource}" in API group "" in the namespace "${namespace}"`;
  const subject = name === undefined ? resource : `${resource} "${name}"`;
  return failure(403, 'Forbidden', `${subject} is forbidden: ${why}`, {
    ...(name === undefined ? {} : { name }),
    kind: resource,
  });
}

export function unauthorized(): Status {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

export function badRequest(message: string): Status {
  return failure(400, 'BadRequest', message);
}

/** The generic 404 for paths no API group serves (NewGenericServerResponse). */
export function pathNotFound(): Status {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function methodNotAllowed(): Status {
  return failure(
    405,
    'MethodNotAllowed',
    'the server does not allow this method on the requested resource',
    {},
  );
}

export function unsupportedMediaType(accepted: readonly string[]): Status {
  return failure(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  );
}

export function tooLarge(limit: number): Status {
  return failure(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);
}

/** etcd3 store's answer to a create carrying a resourceVersion: a bare 500, no reason. */
export function resourceVersionOnCreate(): Status {
  return failure(500, undefined, 'resourceVersion should not be set on objects to be created');
}

const FAULT_REASONS: Readonly<Record<number, string>> = {
  409: 'Conflict',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
  429: 'TooManyRequests',
};

/** NewInternalError: a bug in this fixture surfaces as the apiserver's own 500. */
export function internalError(detail: string): Status {
  return failure(500, 'InternalError', `Internal error occurred: ${detail}`, {
    causes: [{ message: detail }],
  });
}

/** An injected server-side failure (`failNext`), shaped like the apiserver's own. */
export function injectedFault(code: number): Status {
  const reason = FAULT_REASONS[code] ?? 'InternalError';
  if (reason === 'InternalError') return internalError('injected failure');
  return failure(code, reason, `injected failure (${code})`);
}

/** `field.Error.ErrorBody()`: the message without the field path. */
export function errorBody(err: FieldError): string {
  let text = TYPE_TEXT[err.type];
  if (err.type === 'Invalid') text += `: ${JSON.stringify(err.value ?? '')}`;
  return err.detail.length > 0 ? `${text}: ${err.detail}` : text;
}

/** NewInvalid: 422 with one cause per field error; message aggregates them like utilerrors. */
export function invalid(name: string, errors: readonly FieldError[], kind = 'Secret'): Status {
  const texts = [...new Set(errors.map((e) => `${e.field}: ${errorBody(e)}`))];
  const aggregate = texts.length === 1 ? (texts[0] ?? '') : `[${texts.join(', ')}]`;
  return failure(422, 'Invalid', `${kind} "${name}" is invalid: ${aggregate}`, {
    name,
    kind,
    causes: errors.map((e) => ({
      reason: FIELD_ERROR_TYPES[e.type],
      message: errorBody(e),
      field: e.field,
    })),
  });
}
