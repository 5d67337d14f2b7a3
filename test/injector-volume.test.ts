/**
 * Room for a swap: the injector sizes the in-memory volume from the configuration's worst case
 * (every source times the most its files can hold, in tmpfs pages), twice over since an update
 * writes the new files beside the live ones, within MAX_VOLUME_BYTES; a configuration that
 * cannot fit twice within it gets that largest volume and a warning naming its largest source
 * (at run time what does not fit waits, named). Proven over generated configurations.
 */
import fc from 'fast-check';
import t from 'tap';
import { filesWorstCase, sourceBytesBound } from '../agent/source/worst-case.ts';
import { quantityValue } from '../injector/annotations.ts';
import { injectPod } from '../injector/inject.ts';
import { DEFAULT_INJECTOR_OPTIONS, MAX_VOLUME_BYTES } from '../injector/plan.ts';
import { SOURCE_PREFIXES } from '../injector/keys.ts';
import { ANNOTATION_PREFIX, AGENT_NAMES, type Container, type Pod } from '../injector/types.ts';
import type { SecretInput } from '../common/config.ts';

const MI = 1024 * 1024;
const ID = { secretsmanager: 'app/db', parameter: '/app/db', path: '/app/', find: 'app/' };
const SOURCE = ['secretsmanager', 'parameter', 'path', 'find'] as const;

interface Generated {
  readonly source: (typeof SOURCE)[number];
  readonly render: 'key' | 'format' | undefined;
}

/** The pod's annotations for the generated sources, and the secrets they configure. */
function podOf(sources: readonly Generated[]): { pod: Pod; secrets: SecretInput[] } {
  const annotations: Record<string, string> = {
    [`${ANNOTATION_PREFIX}inject`]: 'true',
    [`${ANNOTATION_PREFIX}region`]: 'us-east-1',
  };
  const secrets: SecretInput[] = [];
  for (const [i, g] of sources.entries()) {
    const name = `s${i}`;
    annotations[`${ANNOTATION_PREFIX}${SOURCE_PREFIXES[g.source]}${name}`] = ID[g.source];
    if (g.render === 'key') annotations[`${ANNOTATION_PREFIX}key-${name}`] = 'password';
    if (g.render === 'format') annotations[`${ANNOTATION_PREFIX}format-${name}`] = 'json';
    secrets.push({
      name,
      id: ID[g.source],
      source: g.source,
      ...(g.render === 'key' ? { key: 'password' } : {}),
      ...(g.render === 'format' ? { format: 'json' } : {}),
    });
  }
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', annotations },
    spec: { containers: [{ name: 'app', image: 'app' }] },
  } as unknown as Pod;
  return { pod, secrets };
}

const generated = fc.array(
  fc.record({
    source: fc.constantFrom(...SOURCE),
    render: fc.constantFrom<Generated['render']>(undefined, undefined, 'key', 'format'),
  }),
  { minLength: 1, maxLength: 200 },
);

function sizeLimit(pod: Pod): string | undefined {
  const volume = pod.spec.volumes?.find((v) => v.name === AGENT_NAMES.volume);
  return (volume?.emptyDir as { sizeLimit?: string } | undefined)?.sizeLimit;
}

function agentContainer(pod: Pod): Container | undefined {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find(
    (c) => c.name === AGENT_NAMES.sidecar || c.name === AGENT_NAMES.init,
  );
}

t.test('the volume holds the worst case twice, or is the largest and a warning names why', (t) => {
  const floor = quantityValue(DEFAULT_INJECTOR_OPTIONS.volumeSizeLimit);
  const defaultLimit = quantityValue(DEFAULT_INJECTOR_OPTIONS.resources.limits['memory'] ?? '');
  let injected = 0;
  let warned = 0;
  fc.assert(
    fc.property(generated, (sources) => {
      const { pod, secrets } = podOf(sources);
      const need = 2 * filesWorstCase(secrets);
      const result = injectPod(pod, DEFAULT_INJECTOR_OPTIONS);
      if (result.outcome !== 'injected') return false;
      const size = quantityValue(sizeLimit(result.pod) ?? '');
      if (need > MAX_VOLUME_BYTES) {
        warned++;
        const largest = Math.max(...secrets.map(sourceBytesBound));
        const named = result.warnings.filter((w) => /an update may need/.test(w));
        return (
          size === MAX_VOLUME_BYTES &&
          named.length === 1 &&
          // It names a largest source: the one to change.
          secrets.some(
            (s) =>
              sourceBytesBound(s) === largest &&
              named[0]?.startsWith(
                `${ANNOTATION_PREFIX}${SOURCE_PREFIXES[s.source as 'find']}${s.name}:`,
              ) === true,
          )
        );
      }
      if (result.warnings.some((w) => /an update may need/.test(w))) return false;
      injected++;
      const limit = quantityValue(agentContainer(result.pod)?.resources?.limits?.['memory'] ?? '');
      return (
        size >= need &&
        size >= floor &&
        size <= Math.max(floor, MAX_VOLUME_BYTES) &&
        // Never more than the next whole MiB: the volume is memory.
        size - Math.max(need, floor) < MI &&
        // The default memory limit holds a full volume beyond the default one.
        limit >= defaultLimit + (size - floor)
      );
    }),
    { seed: 0x5a9, numRuns: 300 },
  );
  t.ok(injected > 20 && warned > 20, `both sides reached: ${injected} sized, ${warned} warned`);
  t.end();
});

t.test('the figures docs/limits.md gives', (t) => {
  const size = (sources: Generated[]): string | undefined => {
    const result = injectPod(podOf(sources).pod, DEFAULT_INJECTOR_OPTIONS);
    if (result.outcome !== 'injected') return undefined;
    return sizeLimit(result.pod);
  };
  const secret: Generated = { source: 'secretsmanager', render: undefined };
  t.equal(size([secret]), '16Mi', 'a small configuration keeps the default');
  t.equal(size(Array.from({ length: 200 }, () => secret)), '26Mi', '200 secrets of 64 KiB');
  t.equal(size([{ source: 'find', render: undefined }]), '126Mi', 'one find of 1,000 × 64 KiB');
  t.equal(size(Array.from({ length: 9 }, () => ({ ...secret, render: 'key' as const }))), '19Mi');
  t.equal(size([{ source: 'find', render: 'key' }]), '128Mi', 'a rendered find: the largest');
  const find = injectPod(
    podOf([{ source: 'find', render: undefined }]).pod,
    DEFAULT_INJECTOR_OPTIONS,
  );
  t.equal(
    find.outcome === 'injected' ? agentContainer(find.pod)?.resources?.limits?.['memory'] : '',
    '174Mi',
    'its memory limit: 64Mi and the 110Mi the volume adds',
  );
  const two = injectPod(
    podOf([
      { source: 'find', render: undefined },
      { source: 'find', render: undefined },
    ]).pod,
    DEFAULT_INJECTOR_OPTIONS,
  );
  t.same(
    two.outcome === 'injected' ? two.warnings : [],
    [
      'secrets-agent.io/find-s0: an update may need 251 MiB, past the 128 MiB volume; what does not fit waits',
    ],
    'two finds: admitted at the largest volume, the warning naming the first largest',
  );
  const base = podOf([{ source: 'find', render: undefined }]).pod;
  const raw = {
    ...base,
    metadata: {
      ...base.metadata,
      annotations: { ...base.metadata?.annotations, [`${ANNOTATION_PREFIX}format-s0`]: 'raw' },
    },
  } as Pod;
  t.equal(
    (() => {
      const r = injectPod(raw, DEFAULT_INJECTOR_OPTIONS);
      return r.outcome === 'injected' ? sizeLimit(r.pod) : undefined;
    })(),
    '126Mi',
    'format raw renders nothing: sized as the value itself',
  );
  t.end();
});
