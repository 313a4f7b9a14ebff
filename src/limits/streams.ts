// Concurrent streams per tenant: an in-process counter (per replica, not shared through Redis) behind acquire/release.
/**
 * Bounds how many streaming responses one tenant holds open at once ON THIS INSTANCE. With N replicas behind a
 * load balancer a tenant may hold up to N × max streams; the limit protects each process's sockets and memory,
 * which is what a stream costs, so a per-replica count is the right unit (and needs no Redis round trip).
 */
export interface StreamLimiter {
  /** Takes one slot for the tenant; false (and nothing taken) when it already holds `max`. */
  acquire(tenantId: string, max: number): boolean;
  /** Gives one slot back; call exactly once per successful acquire (a finally block), never after a refusal. */
  release(tenantId: string): void;
  /** Streams the tenant holds open now on this instance. */
  active(tenantId: string): number;
}

export function createStreamLimiter(): StreamLimiter {
  // Only tenants with open streams have an entry, so the map is bounded by the open streams, not by all tenants.
  const open = new Map<string, number>();
  return {
    acquire(tenantId, max) {
      const n = open.get(tenantId) ?? 0;
      if (n >= max) return false;
      open.set(tenantId, n + 1);
      return true;
    },
    release(tenantId) {
      const n = open.get(tenantId) ?? 0;
      // A release without an acquire must not go negative and hand a tenant extra slots later.
      if (n <= 1) open.delete(tenantId);
      else open.set(tenantId, n - 1);
    },
    active(tenantId) {
      return open.get(tenantId) ?? 0;
    },
  };
}
