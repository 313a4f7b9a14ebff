-- Keeps usage_daily in step with usage_ledger. A statement-level trigger sees only the rows that INSERT actually
-- added (ON CONFLICT DO NOTHING skips replays), so the rollup stays exact and idempotent. Rows are grouped and
-- upserted in key order so that concurrent writers lock rollup rows in the same order.
CREATE OR REPLACE FUNCTION tollgate_usage_daily_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_daily AS d (
    day, tenant_id, key_id, provider, model, route, endpoint,
    requests, errors, cache_hits, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
    cost_pico, baseline_cost_pico, saved_response_cache_pico, saved_prompt_cache_pico, saved_off_peak_pico)
  SELECT
    (n.started_at AT TIME ZONE 'UTC')::date, n.tenant_id, coalesce(n.key_id, ''), coalesce(n.provider, ''),
    coalesce(n.model, ''), coalesce(n.route, ''), n.endpoint,
    count(*), count(*) FILTER (WHERE n.outcome IN ('error', 'rejected')), count(*) FILTER (WHERE n.cache_hit),
    sum(n.input_tokens), sum(n.cached_input_tokens), sum(n.output_tokens), sum(n.reasoning_tokens),
    sum(n.cost_pico), sum(n.baseline_cost_pico), sum(n.saved_response_cache_pico), sum(n.saved_prompt_cache_pico),
    sum(n.saved_off_peak_pico)
  FROM new_rows n
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (day, tenant_id, key_id, provider, model, route, endpoint) DO UPDATE SET
    requests = d.requests + EXCLUDED.requests,
    errors = d.errors + EXCLUDED.errors,
    cache_hits = d.cache_hits + EXCLUDED.cache_hits,
    input_tokens = d.input_tokens + EXCLUDED.input_tokens,
    cached_input_tokens = d.cached_input_tokens + EXCLUDED.cached_input_tokens,
    output_tokens = d.output_tokens + EXCLUDED.output_tokens,
    reasoning_tokens = d.reasoning_tokens + EXCLUDED.reasoning_tokens,
    cost_pico = d.cost_pico + EXCLUDED.cost_pico,
    baseline_cost_pico = d.baseline_cost_pico + EXCLUDED.baseline_cost_pico,
    saved_response_cache_pico = d.saved_response_cache_pico + EXCLUDED.saved_response_cache_pico,
    saved_prompt_cache_pico = d.saved_prompt_cache_pico + EXCLUDED.saved_prompt_cache_pico,
    saved_off_peak_pico = d.saved_off_peak_pico + EXCLUDED.saved_off_peak_pico;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER usage_ledger_daily_rollup
  AFTER INSERT ON usage_ledger
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tollgate_usage_daily_rollup();
