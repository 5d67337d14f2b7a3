/** The metric names users script against (README, "Endpoints and metrics"): tests hold the code to them. */
export const CONTRACT_AGENT_METRICS = [
  'secrets_agent_fetch_total',
  'secrets_agent_fetch_duration_seconds',
  'secrets_agent_aws_api_calls_total',
  'secrets_agent_last_success_timestamp_seconds',
  'secrets_agent_updates_total',
  'secrets_agent_k8s_secret_writes_total',
  'secrets_agent_ready',
] as const;

export const CONTRACT_INJECTOR_METRICS = [
  'secrets_agent_injector_admissions_total',
  'secrets_agent_injector_admission_duration_seconds',
] as const;
