/**
 * The agent's schema names its problems by configuration field (`secrets[2].format`); a pod's
 * author wrote annotations. This names each field by the annotation that set it.
 */
import { configProblemMessage, type ConfigProblem, type SecretInput } from '../common/config.ts';
import { podKeyForField, SECRET_FIELD_PREFIX } from '../common/contract.ts';
import { samePath, type FieldPath } from '../common/field.ts';
import { SOURCE_PREFIXES } from './keys.ts';
import { annotationPath, type Problem } from './problems.ts';
import { ANNOTATION_PREFIX } from './types.ts';

/**
 * The annotation (without the prefix) that set a configuration field. Fields the injector sets
 * itself fall back to `inject`: a problem there is the injector's, and still denies.
 */
export function annotationForField(path: FieldPath, secrets: readonly SecretInput[]): string {
  const [top, i, field] = path;
  if (top === 'secrets' && typeof i === 'number') {
    const secret = secrets[i];
    const name = secret?.name ?? '';
    // name, source and id come from the annotation that names the source.
    const sourcePrefix =
      SOURCE_PREFIXES[(secret?.source ?? 'secretsmanager') as keyof typeof SOURCE_PREFIXES] ??
      SOURCE_PREFIXES.secretsmanager;
    if (typeof field !== 'string' || field === 'name' || field === 'source' || field === 'id')
      return `${sourcePrefix}${name}`;
    return `${SECRET_FIELD_PREFIX[field as keyof SecretInput] ?? sourcePrefix}${name}`;
  }
  return podKeyForField(path) ?? 'inject';
}

/** A schema problem, said in annotations: its path is the annotation, its field the schema's. */
export function toProblem(p: ConfigProblem, secrets: readonly SecretInput[]): Problem {
  const annotation = annotationForField(p.path, secrets);
  if (samePath(p.path, ['secrets']) && secrets.length === 0) {
    return {
      kind: 'required',
      path: annotationPath('inject'),
      field: p.path,
      message: `opts the pod in but no ${ANNOTATION_PREFIX}secret-<name> annotation names a secret (nor a param-, path- or find- annotation)`,
    };
  }
  const name = (path: FieldPath): string =>
    `${ANNOTATION_PREFIX}${annotationForField(path, secrets)}`;
  const refs = p.refs?.map((ref) => annotationPath(annotationForField(ref, secrets)));
  return {
    kind: p.kind,
    path: annotationPath(annotation),
    field: p.path,
    message: configProblemMessage(p, name),
    ...(p.badValue === undefined ? {} : { badValue: p.badValue }),
    ...(refs === undefined ? {} : { refs }),
  };
}
