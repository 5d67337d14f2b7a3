/**
 * The SSM Parameter Store endpoint: `POST /` with `X-Amz-Target: AmazonSSM.<Operation>`
 * (awsJson1_1), answering the calls the agent makes: GetParameters (up to 10 names),
 * GetParametersByPath (pages of up to 10) and GetParameter. SecureString values are returned
 * decrypted only with `WithDecryption`. Errors in SSM's shape and wording; injected faults
 * apply as they do to Secrets Manager (scoped by parameter name or path).
 */
import { createHash } from 'node:crypto';
import { AwsError, serialization } from './aws-error.ts';
import type { JsonCall, JsonObject, JsonService } from './json-service.ts';
import type { ParameterRecord, SelectedParameter } from './parameters.ts';

export const SSM_TARGET_PREFIX = 'AmazonSSM.';
const NAMES_LIMIT = 10;
const PAGE_LIMIT = 10;

type Call = JsonCall;

const OPERATIONS: Readonly<Record<string, (input: JsonObject, call: Call) => JsonObject>> = {
  GetParameters: getParameters,
  GetParametersByPath: getParametersByPath,
  GetParameter: getParameter,
};

export const SSM: JsonService = {
  service: 'ssm',
  targetPrefix: SSM_TARGET_PREFIX,
  internalError: 'InternalServerError',
  operations: OPERATIONS,
  idsOf: namesOf,
  inOwnWords: inSsmWords,
};

/** An injected fault, said as SSM says it. */
function inSsmWords(error: AwsError): AwsError {
  switch (error.code) {
    case 'ResourceNotFoundException':
      return new AwsError('ParameterNotFound', 'Parameter not found.');
    case 'DecryptionFailure':
      return new AwsError(
        'AccessDeniedException',
        "User is not authorized to perform: kms:Decrypt on the parameter's KMS key (Service: AWSKMS; Error Code: AccessDeniedException) (injected fault)",
      );
    case 'InternalServiceError':
      return new AwsError('InternalServerError', 'An error occurred on the server side.', 500);
    default:
      return error;
  }
}

function getParameters(input: JsonObject, call: Call): JsonObject {
  const names = input['Names'];
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))
    throw serialization('Names must be a list of strings.');
  if (names.length === 0 || names.length > NAMES_LIMIT)
    throw validation(
      `1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to ${NAMES_LIMIT}`,
    );
  const decrypt = input['WithDecryption'] === true;
  const parameters: JsonObject[] = [];
  const invalid: string[] = [];
  for (const name of new Set<string>(names)) {
    const selected = call.state.parameters.select(name);
    if (selected === undefined) invalid.push(name);
    else parameters.push(entry(call, selected, decrypt));
  }
  return { Parameters: parameters, InvalidParameters: invalid };
}

function getParameter(input: JsonObject, call: Call): JsonObject {
  const name = input['Name'];
  if (typeof name !== 'string' || name === '') throw validation('Name must not be empty.');
  const selected = call.state.parameters.select(name);
  if (selected === undefined) throw new AwsError('ParameterNotFound', '');
  return { Parameter: entry(call, selected, input['WithDecryption'] === true) };
}

function getParametersByPath(input: JsonObject, call: Call): JsonObject {
  const path = input['Path'];
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw validation(
      'The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/".',
    );
  const max = input['MaxResults'] ?? PAGE_LIMIT;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > PAGE_LIMIT)
    throw validation(
      `1 validation error detected: Value '${JSON.stringify(max)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${PAGE_LIMIT}`,
    );
  const all = call.state.parameters.underPath(path, input['Recursive'] === true);
  const token = input['NextToken'];
  const start =
    typeof token === 'string' ? Number(Buffer.from(token, 'base64').toString('utf8')) : 0;
  if (!Number.isInteger(start) || start < 0 || start > all.length)
    throw new AwsError('InvalidNextToken', 'The specified token is not valid.');
  const page = all.slice(start, start + max);
  const decrypt = input['WithDecryption'] === true;
  const next = start + page.length;
  return {
    Parameters: page.map((p) => entry(call, latest(p), decrypt)),
    ...(next < all.length ? { NextToken: Buffer.from(String(next)).toString('base64') } : {}),
  };
}

function latest(parameter: ParameterRecord): SelectedParameter {
  const version = parameter.versions.at(-1);
  if (version === undefined) throw new Error('a parameter without versions');
  return { parameter, version };
}

function entry(call: Call, selected: SelectedParameter, decrypt: boolean): JsonObject {
  const { parameter, version, selector } = selected;
  const encrypted = parameter.type === 'SecureString' && !decrypt;
  return {
    Name: parameter.name,
    Type: parameter.type,
    // Without decryption a SecureString answers its ciphertext: here a stand-in for it.
    Value: encrypted
      ? `AQICAH${createHash('sha256').update(version.value).digest('base64')}`
      : version.value,
    Version: version.version,
    ...(selector === undefined ? {} : { Selector: selector }),
    LastModifiedDate: version.modified / 1000,
    ARN: call.state.parameters.arn(parameter, call.region),
    DataType: 'text',
  };
}

function validation(message: string): AwsError {
  return new AwsError('ValidationException', message);
}

function namesOf(input: JsonObject): string[] {
  const out: string[] = [];
  for (const key of ['Name', 'Path']) if (typeof input[key] === 'string') out.push(input[key]);
  const names = input['Names'];
  if (Array.isArray(names)) out.push(...names.filter((n): n is string => typeof n === 'string'));
  return out;
}
