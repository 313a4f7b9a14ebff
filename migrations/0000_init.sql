CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
CREATE TABLE "responses" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"body" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tenant_policies" (
	"tenant_id" text NOT NULL,
	"version" integer NOT NULL,
	"policy" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenant_policies_tenant_id_version_pk" PRIMARY KEY("tenant_id","version")
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"disabled" boolean DEFAULT false NOT NULL,
	"policy_version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "usage_daily" (
	"day" date NOT NULL,
	"tenant_id" text NOT NULL,
	"key_id" text NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"route" text NOT NULL,
	"endpoint" text NOT NULL,
	"requests" bigint NOT NULL,
	"errors" bigint NOT NULL,
	"cache_hits" bigint NOT NULL,
	"input_tokens" bigint NOT NULL,
	"cached_input_tokens" bigint NOT NULL,
	"output_tokens" bigint NOT NULL,
	"reasoning_tokens" bigint NOT NULL,
	"cost_pico" numeric(30, 0) DEFAULT 0 NOT NULL,
	"baseline_cost_pico" numeric(30, 0) DEFAULT 0 NOT NULL,
	"saved_response_cache_pico" numeric(30, 0) DEFAULT 0 NOT NULL,
	"saved_prompt_cache_pico" numeric(30, 0) DEFAULT 0 NOT NULL,
	"saved_off_peak_pico" numeric(30, 0) DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_daily_day_tenant_id_key_id_provider_model_route_endpoint_pk" PRIMARY KEY("day","tenant_id","key_id","provider","model","route","endpoint")
);
--> statement-breakpoint
CREATE TABLE "usage_ledger" (
	"request_id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"key_id" text,
	"endpoint" text NOT NULL,
	"route" text,
	"provider" text,
	"model" text,
	"stream" boolean NOT NULL,
	"input_tokens" integer NOT NULL,
	"cached_input_tokens" integer NOT NULL,
	"output_tokens" integer NOT NULL,
	"reasoning_tokens" integer NOT NULL,
	"usage_source" text NOT NULL,
	"cost_pico" numeric(30, 0) DEFAULT 0 NOT NULL,
	"baseline_cost_pico" numeric(30, 0) DEFAULT 0 NOT NULL,
	"saved_response_cache_pico" numeric(30, 0) DEFAULT 0 NOT NULL,
	"saved_prompt_cache_pico" numeric(30, 0) DEFAULT 0 NOT NULL,
	"saved_off_peak_pico" numeric(30, 0) DEFAULT 0 NOT NULL,
	"price_version" text,
	"status" integer NOT NULL,
	"outcome" text NOT NULL,
	"error_code" text,
	"cache_hit" boolean NOT NULL,
	"attempts" jsonb NOT NULL,
	"latency_ms" integer NOT NULL,
	"ttft_ms" integer,
	"started_at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tenant_policies" ADD CONSTRAINT "tenant_policies_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_tenant_idx" ON "api_keys" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "responses_tenant_idx" ON "responses" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "responses_expires_idx" ON "responses" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "usage_daily_tenant_day_idx" ON "usage_daily" USING btree ("tenant_id","day");--> statement-breakpoint
CREATE INDEX "usage_ledger_tenant_started_idx" ON "usage_ledger" USING btree ("tenant_id","started_at");--> statement-breakpoint
CREATE INDEX "usage_ledger_started_idx" ON "usage_ledger" USING btree ("started_at");