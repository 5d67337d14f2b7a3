/** Names from the product contract (../shared/SPEC.md, "Metrics") that tests hold the code to. */
export const SPEC_AGENT_METRICS = [
  'secrets_agent_fetch_total',
  'secrets_agent_fetch_duration_seconds',
  'secrets_agent_aws_api_calls_total',
  'secrets_agent_last_success_timestamp_seconds',
  'secrets_agent_updates_total',
  'secrets_agent_k8s_secret_writes_total',
  'secrets_agent_ready',
] as const;

export const SPEC_INJECTOR_METRICS = [
  'secrets_agent_injector_admissions_total',
  'secrets_agent_injector_admission_duration_seconds',
] as const;
