/**
 * The injector's Prometheus metrics (names as the README documents them), on a registry passed in, never the global
 * one, so tests and a second server in one process never collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every way one `POST /mutate` can end. `error`: no admission decision was returned (4xx/5xx). */
export const ADMISSION_OUTCOMES = ['injected', 'skipped', 'denied', 'error'] as const;
export type AdmissionOutcome = (typeof ADMISSION_OUTCOMES)[number];

/** What the handler decided; `error` is the server's own verdict, never the handler's. */
export type HandlerOutcome = Exclude<AdmissionOutcome, 'error'>;

export const RELOAD_OUTCOMES = ['loaded', 'rejected'] as const;
export type CertificateReloadOutcome = (typeof RELOAD_OUTCOMES)[number];

export interface InjectorMetrics {
  readonly registry: Registry;
  readonly admissions: Counter<'outcome'>;
  readonly admissionDuration: Histogram;
  /** Beyond the core metrics: added so a stuck rotation (every new pair rejected) can be alerted on. */
  readonly certificateReloads: Counter<'outcome'>;
  readonly certificateExpiry: Gauge;
}

export function createInjectorMetrics(
  registry = new Registry(),
  withDefaults = true,
): InjectorMetrics {
  if (withDefaults) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const admissions = new Counter({
    name: 'secrets_agent_injector_admissions_total',
    help: 'AdmissionReview requests on /mutate, by outcome (injected, skipped, denied, error).',
    labelNames: ['outcome'] as const,
    registers,
  });
  const certificateReloads = new Counter({
    name: 'secrets_agent_injector_certificate_reloads_total',
    help: 'TLS key pairs read from disk after a change, by outcome (loaded, rejected: the old pair is kept).',
    labelNames: ['outcome'] as const,
    registers,
  });
  // Zero every series up front: a rate() over a series that appears late misses its first hits.
  for (const outcome of ADMISSION_OUTCOMES) admissions.inc({ outcome }, 0);
  for (const outcome of RELOAD_OUTCOMES) certificateReloads.inc({ outcome }, 0);
  return {
    registry,
    admissions,
    certificateReloads,
    admissionDuration: new Histogram({
      name: 'secrets_agent_injector_admission_duration_seconds',
      help: 'Time to answer one AdmissionReview on /mutate, body read included, in seconds.',
      // The API server's webhook timeout is 10 s here (30 s at most): finer at the low end.
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    certificateExpiry: new Gauge({
      name: 'secrets_agent_injector_certificate_expiry_timestamp_seconds',
      help: 'Unix time at which the serving certificate in use expires.',
      registers,
    }),
  };
}
