/**
 * The JSON patch between the admitted pod and the mutated one, computed by diffing (never built
 * by hand: hand-built patches get array indexes wrong once other webhooks have been at work).
 */
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';

export type PatchOperation = Operation;

export function computePatch(original: unknown, mutated: unknown): readonly PatchOperation[] {
  // compare() reads its arguments only; the cast is for its `Object | Array` parameter types.
  return fastJsonPatch.compare(original as object, mutated as object);
}

/** The patch as the `patch` field of an AdmissionResponse wants it. */
export function encodePatch(patch: readonly PatchOperation[]): string {
  return Buffer.from(JSON.stringify(patch)).toString('base64');
}
