/**
 * How `{{ field }}` templates compile, for the agent (which renders them) and the injector (which
 * checks them at admission, so a template the agent would refuse is denied up front): strict (a
 * missing field is an error), no HTML escaping, and only the built-in helpers plus `json`.
 */
export const TEMPLATE_OPTIONS = {
  strict: true,
  noEscape: true,
  knownHelpersOnly: true,
  knownHelpers: { log: false, json: true },
} as const;
