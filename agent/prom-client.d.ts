/**
 * prom-client's own files, which agent/metrics.ts imports one by one: its index also loads the
 * Pushgateway client (zlib, https), the cluster aggregator and the default process metrics
 * (OpenTelemetry's API), ~10 ms of every agent start that an init container never uses. The
 * types are the index's.
 */
declare module 'prom-client/lib/registry.js' {
  import { Registry } from 'prom-client';
  export = Registry;
}
declare module 'prom-client/lib/counter.js' {
  import { Counter } from 'prom-client';
  export = Counter;
}
declare module 'prom-client/lib/gauge.js' {
  import { Gauge } from 'prom-client';
  export = Gauge;
}
declare module 'prom-client/lib/histogram.js' {
  import { Histogram } from 'prom-client';
  export = Histogram;
}
declare module 'prom-client/lib/defaultMetrics.js' {
  import { collectDefaultMetrics } from 'prom-client';
  export = collectDefaultMetrics;
}
