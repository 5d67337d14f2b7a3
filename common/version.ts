/**
 * The product's version: `secrets-agent --version`, and the tag of the agent image the injector
 * adds by default. A test keeps it equal to package.json's version and the kustomization's tag,
 * which the release workflow tags images with.
 */
export const VERSION = '0.1.0';

/** The agent image the injector adds unless told otherwise (`--image`). */
export const DEFAULT_IMAGE = `secrets-agent:${VERSION}`;
