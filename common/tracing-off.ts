/**
 * Bundled in place of `@opentelemetry/api` (build.ts). prom-client requires it in one place, to
 * label a CPU metric's exemplars with the active trace span, and neither the agent nor the
 * injector enables exemplars or traces anything: this is that API with no span ever active, and
 * the bundles leave out ~60 KB of code that every process would otherwise compile and keep.
 */
export const context = { active: (): undefined => undefined };
export const trace = { getSpan: (): undefined => undefined };
