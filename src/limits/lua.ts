// The Lua scripts of the Redis limiter: a batch of admissions (all limits + budget reservation) and settlements, settle,
// state, reset. One round trip each.
//
// Exactness. Money never becomes a Lua number: budget counters are Redis integer strings changed only by INCRBY/DECRBY
// (exact 64-bit arithmetic on the server) and compared as decimal strings. The caller passes `limit − reserve` as the
// threshold, so the check `used + reserve ≤ limit` is `used ≤ threshold` with no addition in Lua. Bound: a counter must
// stay below 2^63 pico-USD (≈ $9.2 million): limits are capped at $8 million per period and one reservation at
// $100,000 (shared.ts), which leaves room for open reservations and soft-budget overshoot.
// Cluster: every key of a tenant carries the hash tag {t:<tenant>}, so one script only touches one slot. Keys read from a
// reservation record or the tenant's counter set are not in KEYS but are in that same slot by construction.
// Rate limits are a leaky bucket (GCRA) kept in integers: a unit (a request, a token) weighs W = 60000 and the bucket
// drains `limit` per ms, so the capacity is limit × W. Every product stays below 2^53 (exact in a double) while
// limit ≤ 1e9 per minute and one request weighs ≤ 1e8 tokens; the limiter clamps to those bounds.
//
// Reservation records (hash `res`, field = request id), with a deadline in the sorted set `resx`:
//   o\n<amount>\n<budget keys, tab-separated>\n<token-bucket keys>\n<estimated tokens>   open
//   x…  expired (its amount was returned to the counters; a late settle still charges the actual cost)
//   r…  reset (counters were dropped and rebuilt from the ledger: the amount is in no counter)
//   s   settled tombstone (a second settle is a no-op); deleted after its deadline

const common = `
local W = 60000
local function fmt(n) return string.format('%.0f', n) end

-- Compares two canonical decimal integer strings (as INCRBY writes them): -1, 0 or 1.
local function cmp(a, b)
  local na, nb = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
  if na ~= nb then if na then return -1 else return 1 end end
  if na then a = string.sub(a, 2); b = string.sub(b, 2) end
  local r
  if #a ~= #b then if #a < #b then r = -1 else r = 1 end
  elseif a == b then r = 0
  elseif a < b then r = -1 else r = 1 end
  if na then r = -r end
  return r
end

local function split(s, sep)
  local out = {}
  if s == nil or s == '' then return out end
  local from = 1
  while true do
    local i = string.find(s, sep, from, true)
    if not i then table.insert(out, string.sub(s, from)); break end
    table.insert(out, string.sub(s, from, i - 1))
    from = i + 1
  end
  return out
end

local function parse(rec)
  local f = split(rec, '\\n')
  return { state = f[1], amount = f[2] or '0', bkeys = split(f[3] or '', '\\t'), tkeys = split(f[4] or '', '\\t'), est = tonumber(f[5] or '0') or 0 }
end

-- Takes an amount out of an existing counter; never below zero (a counter rebuilt meanwhile).
local function decrease(key, amount)
  local v = redis.call('DECRBY', key, amount)
  if v < 0 then redis.call('SET', key, '0', 'KEEPTTL') end
end

-- Whether each budget counter exists, as far as this script call has asked (key → true/false). A script's keys do not
-- expire while it runs (Redis freezes their clock at its start), and no script here deletes a counter (DECRBY, SET
-- KEEPTTL and INCRBY only ever write counters that exist; resetLua is a script of its own): an answer holds for the
-- whole call, except where the call itself creates a counter (ensureCounters seeding one), which says so here.
local known = {}

-- Whether a counter exists, asked at most once per call (\`known\`).
local function exists(key)
  local e = known[key]
  if e == nil then
    e = redis.call('EXISTS', key) == 1
    known[key] = e
  end
  return e
end

-- Takes an amount back out of a counter that still exists.
local function unreserve(key, amount)
  if amount ~= '0' and exists(key) then decrease(key, amount) end
end

-- Which of \`keys\` exist (key → true/false): the ones not known yet asked in one EXISTS, which settles them all when
-- all or none of them exist; one by one otherwise.
local function existing(keys)
  local ask = {}
  for _, k in ipairs(keys) do if known[k] == nil then table.insert(ask, k) end end
  if #ask > 0 then
    local all = redis.call('EXISTS', unpack(ask))
    if all == #ask or all == 0 then -- EXISTS counts a key named twice twice
      for _, k in ipairs(ask) do known[k] = all > 0 end
    end
  end
  local ex = {}
  for _, k in ipairs(keys) do ex[k] = exists(k) end
  return ex
end

-- Integers below this (2^53) are exact Lua numbers.
local EXACT = 9007199254740992

-- Gives a reservation of \`amount\` back to each of \`keys\` that \`ex\` says exists, never below zero, and charges
-- \`actual\` to them: first every giving back, then every charge, as DECRBY and INCRBY would one by one. That is one
-- INCRBY per counter: a counter named n times goes from u to max(u − n·amount, 0) + n·actual, and the INCRBY of
-- n·(actual − amount) leaves it below n·actual exactly when u − n·amount fell below zero, where it is set to n·actual.
-- Amounts and counters are never negative, so with both products below 2^53 every number here is exact; otherwise
-- one by one.
local function settleCounters(keys, ex, amount, actual)
  local times, order = {}, {}
  for _, k in ipairs(keys) do
    if ex[k] then
      if times[k] == nil then
        times[k] = 0
        table.insert(order, k)
      end
      times[k] = times[k] + 1
    end
  end
  local a, c = tonumber(amount), tonumber(actual)
  for _, k in ipairs(order) do
    local n = times[k]
    local back, charge = a * n, c * n
    if back < EXACT and charge < EXACT then
      local v = redis.call('INCRBY', k, fmt(charge - back))
      if v < charge then redis.call('SET', k, fmt(charge), 'KEEPTTL') end
    else
      for _ = 1, n do decrease(k, amount) end
      if actual ~= '0' then for _ = 1, n do redis.call('INCRBY', k, actual) end end
    end
  end
end

-- Adds an amount to each of \`keys\` that \`ex\` (from existing()) says exists.
local function chargeExisting(keys, ex, amount)
  for _, k in ipairs(keys) do if ex[k] then redis.call('INCRBY', k, amount) end end
end

-- Token buckets go through a cache of the script's own: each is read at most once (HMGET l t n) and written once at the
-- end (flushBuckets), however many admissions and settlements of one call touch it. Nothing else reads a bucket while
-- a script runs and a key's clock stands still for the script, so this leaves what writing every change at once would.
-- A cached bucket is {l, t, n}, false when it does not exist. All three are integers (a level only ever moves by
-- whole units of W and by whole ms × a limit, \`now\` is in whole ms, limits and tokens are clamped integers), so the
-- cache holds exactly what HSET stores.
local buckets, dirtyBuckets = {}, {}
local function bucket(key)
  local v = buckets[key]
  if v == nil then
    local r = redis.call('HMGET', key, 'l', 't', 'n')
    if r[1] then v = {tonumber(r[1]), tonumber(r[2]), tonumber(r[3])} else v = false end
    buckets[key] = v
  end
  return v
end

-- Leaky bucket level at \`now\` (0 when the bucket does not exist), drained at \`limit\` or at the stored one.
local function drained(v, now, limit)
  if not v then return 0 end
  local l, t = v[1], v[2]
  local n = limit or v[3]
  local dt = now - t
  if dt < 0 then dt = 0 end
  if dt > W then dt = W end
  l = l - dt * n
  if l < 0 then l = 0 end
  return l
end

local function level(key, now, limit)
  return drained(bucket(key), now, limit)
end

local function putLevel(key, l, now, n)
  buckets[key] = {l, now, n}
  dirtyBuckets[key] = true
end

local function flushBuckets()
  for key in pairs(dirtyBuckets) do
    local v = buckets[key]
    redis.call('HSET', key, 'l', fmt(v[1]), 't', fmt(v[2]), 'n', fmt(v[3]))
    redis.call('PEXPIRE', key, math.ceil(v[1] / v[3]) + W)
  end
end

-- The earliest deadline in resx as far as this script knows (nil: not known yet; math.huge: none), so that a prune with
-- nothing due asks Redis nothing: read at the first prune of a call, lowered by the deadlines the call adds (deadline()),
-- forgotten after a prune that went through records. A deadline moved later by ZADD leaves it low, which only costs a
-- prune that finds nothing.
local nextDue = nil

local function deadline(resx, at, id)
  redis.call('ZADD', resx, at, id)
  if nextDue ~= nil and at < nextDue then nextDue = at end
end

-- Returns expired open reservations to their counters (bounded work per call) and drops old tombstones. Returns how
-- many records it went through: 0 = it wrote nothing.
local function prune(res, resx, now, ttl)
  if nextDue == nil then
    local first = redis.call('ZRANGE', resx, 0, 0, 'WITHSCORES')
    if first[2] then nextDue = tonumber(first[2]) else nextDue = math.huge end
  end
  if now < nextDue then return 0 end
  local ids = redis.call('ZRANGEBYSCORE', resx, '-inf', now, 'LIMIT', 0, 200)
  if #ids == 0 then
    nextDue = nil
    return 0
  end
  -- Every due record read at once, and the ones to drop (tombstones, and records whose amount was given back or
  -- reset) dropped at once: each touches only its own record, so the order among them changes nothing.
  local recs, gone = redis.call('HMGET', res, unpack(ids)), {}
  for i, id in ipairs(ids) do
    local rec = recs[i]
    if rec and string.sub(rec, 1, 1) == 'o' then
      local r = parse(rec)
      for _, k in ipairs(r.bkeys) do unreserve(k, r.amount) end
      redis.call('HSET', res, id, 'x' .. string.sub(rec, 2))
      redis.call('ZADD', resx, now + ttl, id)
    else
      table.insert(gone, id)
    end
  end
  if #gone > 0 then
    redis.call('HDEL', res, unpack(gone))
    redis.call('ZREM', resx, unpack(gone))
  end
  nextDue = nil
  return #ids
end

-- Keeps the reservation keys at least \`ms\` longer, never shortening them: while an open reservation's amount sits in a
-- counter, its record must outlive that counter, or an idle tenant's expired reservation could never be given back.
local function touch(res, resx, ms)
  for _, k in ipairs({res, resx}) do
    local p = redis.call('PTTL', k)
    if p == -1 or (p >= 0 and p < ms) then redis.call('PEXPIRE', k, ms) end
  end
end

-- Seeds missing counters (seeds[i] '' = none given; expiry at expireAts[i]); returns the 1-based indices still missing,
-- and the values read on the way in (MGET: a counter's string as GET gives it, false for one missing — or not a string,
-- which EXISTS then tells apart). A value read stays the counter's own until something writes counters: seeding only
-- creates the ones read as false.
local function ensureCounters(bk, keys, expireAts, seeds)
  local missing, vals = {}, {}
  if #keys > 0 then vals = redis.call('MGET', unpack(keys)) end
  for i, key in ipairs(keys) do
    if vals[i] then
      known[key] = true
    elseif not exists(key) then
      local seed = seeds[i]
      if seed ~= '' then
        redis.call('SET', key, seed, 'PXAT', expireAts[i])
        known[key] = true
        -- The set of a tenant's counters, for resetBudgets; it outlives any monthly counter.
        redis.call('SADD', bk, key)
        redis.call('PEXPIRE', bk, 40 * 86400000)
      else
        table.insert(missing, i)
      end
    end
  end
  return missing, vals
end

-- Settles one request (the settle script, and the settlements in a batch): gives its reservation back, charges its
-- actual cost, corrects its token buckets by actual − estimated tokens and leaves a tombstone. With no record the actual
-- cost goes to \`late\`, the budget counters of its periods. Returns 'settled' | 'late' | 'dup' | 'none'; only the first
-- two write (the caller then keeps the reservation keys alive: touch).
local function settleOne(res, resx, now, rid, actual, actualTokens, ttl, late)
  local rec = redis.call('HGET', res, rid)
  local outcome
  if rec then
    local r = parse(rec)
    if r.state == 's' then return 'dup' end
    -- The reservation given back and the actual cost charged (settleCounters: as every unreserve, then every charge),
    -- only on counters that exist; existence asked at most once per call, and not at all when there is nothing to write.
    local back = r.state == 'o' and r.amount ~= '0'
    if back then
      settleCounters(r.bkeys, existing(r.bkeys), r.amount, actual)
    elseif actual ~= '0' then
      chargeExisting(r.bkeys, existing(r.bkeys), actual)
    end
    local delta = actualTokens - r.est
    if delta ~= 0 then
      for _, k in ipairs(r.tkeys) do
        local v = bucket(k)
        if v then
          -- A settlement may carry an earlier instant than the bucket's last update: never move its clock back.
          local at = math.max(now, v[2])
          local n = v[3]
          local l = drained(v, at, n) + delta * W
          if l < 0 then l = 0 end
          putLevel(k, l, at, n)
        end
      end
    end
    if r.state == 'o' then outcome = 'settled' else outcome = 'late' end
  else
    if #late == 0 then return 'none' end
    if actual ~= '0' then chargeExisting(late, existing(late), actual) end
    outcome = 'late'
  end
  redis.call('HSET', res, rid, 's')
  deadline(resx, now + ttl, rid)
  return outcome
end
`;

/**
 * One call for a tenant's admissions and settlements in the order they were issued, each applied exactly as if it had
 * been a script call of its own (test/limits/batch-script.test.ts compares the two on random sequences). An admission
 * judges every rate limit and hard budget of its group and reserves all or nothing; a settlement gives a reservation
 * back and charges the actual cost. What the operations share is done once per call: reading and writing the token
 * buckets (a cache, above), the counters' existence check per group, the reservation keys' keep-alive, TIME.
 *
 * KEYS: res, resx, bk, then every other key the call names (rate keys, budget counters), each once.
 * ARGV: ttlMs, ng, then per group (admissions of one key and model under the same limits and budgets): nr, nb,
 *       per rate limit: key index, kind (r|t), limit; per budget: key index, mode (h|s), expireAtMs, seed ('' or pico);
 *       then the group's token-bucket key names, tab-separated (for the reservation record);
 *       then nops and the operations:
 *         'a' (or 'q': quiet, see admitOne), group, now, requestId, tokens, reserve, then per budget of its group:
 *              threshold (limit − reserve)
 *         's', now, requestId, actualPico, actualTokens, nk, then nk key indices (its budget counters, charged when the
 *              request has no record)
 * Returns one reply per admission, in order: {'seed', i…} | {'ok', rem1, reset1, …, used1, …} |
 * {'no', kind, retryMs, rem1, reset1, …, used1, …, budgetIndex} | {'k'} (a quiet admission, admitted).
 */
export const batchLua = `${common}
local res, resx, bk = KEYS[1], KEYS[2], KEYS[3]
local ttl, ng = tonumber(ARGV[1]), tonumber(ARGV[2])
local a = 3
local groups = {}
for g = 1, ng do
  local G = {nr = tonumber(ARGV[a]), nb = tonumber(ARGV[a + 1]), rkey = {}, kind = {}, lim = {}, bkey = {}, mode = {}, exp = {}, seed = {}}
  a = a + 2
  for i = 1, G.nr do
    G.rkey[i], G.kind[i], G.lim[i] = KEYS[tonumber(ARGV[a])], ARGV[a + 1], tonumber(ARGV[a + 2])
    a = a + 3
  end
  for i = 1, G.nb do
    G.bkey[i], G.mode[i], G.exp[i], G.seed[i] = KEYS[tonumber(ARGV[a])], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
    a = a + 4
  end
  G.tkeys = ARGV[a]
  G.bjoined = table.concat(G.bkey, '\\t')
  a = a + 1
  groups[g] = G
end

-- Budget counters' values as this call last read or wrote them; forgotten whenever counters may have been written
-- otherwise (a prune, a settlement, a reservation replaced).
local ctr = {}
-- How long the reservation keys must live at least (0: nothing was written that needs them).
local keep = 0
local serverNow = nil

local function rateOut(out, G, levels)
  for i = 1, G.nr do
    local n = G.lim[i]
    table.insert(out, math.floor((n * W - levels[i]) / W))
    table.insert(out, math.ceil(levels[i] / n))
  end
end

-- A counter's value after INCRBY, as GET would give it, from INCRBY's own reply while that is exact (a Lua number holds
-- every integer below 2^53 pico-USD, ~$9 007: EXACT); nil above, where the caller reads the counter back instead.
local function exactReply(v)
  if v > -EXACT and v < EXACT then return fmt(v) end
  return nil
end

-- quiet: an admission that went ahead, whose answer the gateway only reads for a refusal; admitted, it is answered
-- {'k'} instead of its x-ratelimit state and spend (the last one of its group in a call still gets them: the caller
-- asks for that one with 'a').
local function admitOne(G, now, rid, tokens, reserve, t0, quiet)
  if G.missing == nil then
    local missing, vals = ensureCounters(bk, G.bkey, G.exp, G.seed)
    G.missing = missing
    for i = 1, G.nb do if vals[i] then ctr[G.bkey[i]] = vals[i] end end
  end
  if #G.missing > 0 then
    local out = {'seed'}
    for _, i in ipairs(G.missing) do table.insert(out, i) end
    return out
  end
  if prune(res, resx, now, ttl) > 0 then ctr = {} end

  local cur, nxt, refusal, retry = {}, {}, nil, 0
  for i = 1, G.nr do
    local kind, n = G.kind[i], G.lim[i]
    local cost = 1
    if kind == 't' then cost = tokens end
    cur[i] = level(G.rkey[i], now, n)
    nxt[i] = cur[i] + cost * W
    local cap = n * W
    if nxt[i] > cap then
      local wait
      if cost > n then wait = math.ceil(cur[i] / n) else wait = math.ceil((nxt[i] - cap) / n) end
      if wait > retry then retry = wait end
      if refusal == nil or (refusal == 't' and kind == 'r') then refusal = kind end
    end
  end

  local used, budgetRefusal = {}, 0
  for i = 1, G.nb do
    local key = G.bkey[i]
    local u = ctr[key]
    if u == nil then
      u = redis.call('GET', key) or '0'
      ctr[key] = u
    end
    used[i] = u
    if G.mode[i] == 'h' and budgetRefusal == 0 and cmp(u, ARGV[t0 + i - 1]) > 0 then budgetRefusal = i end
  end

  -- All or nothing: a refusal changes nothing of the admission's own.
  if refusal ~= nil or budgetRefusal > 0 then
    local out = {'no', refusal or 'b', retry}
    rateOut(out, G, cur)
    for i = 1, G.nb do table.insert(out, used[i]) end
    table.insert(out, budgetRefusal)
    return out
  end

  local out = {'ok'}
  -- The same request id admitted again (a retried admission) replaces its earlier reservation.
  local old = redis.call('HGET', res, rid)
  if old and string.sub(old, 1, 1) == 'o' then
    local r = parse(old)
    for _, k in ipairs(r.bkeys) do unreserve(k, r.amount) end
    ctr = {}
  end
  for i = 1, G.nr do putLevel(G.rkey[i], nxt[i], now, G.lim[i]) end
  if not quiet then rateOut(out, G, nxt) end
  if G.nb > 0 and serverNow == nil then
    local t = redis.call('TIME')
    serverNow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  for i = 1, G.nb do
    local key = G.bkey[i]
    keep = math.max(keep, tonumber(G.exp[i]) - serverNow)
    if reserve ~= '0' then ctr[key] = exactReply(redis.call('INCRBY', key, reserve)) end
    if not quiet then
      -- Read back when INCRBY's reply could not say it exactly (exactReply).
      local u = ctr[key]
      if u == nil then
        u = redis.call('GET', key) or '0'
        ctr[key] = u
      end
      table.insert(out, u)
    end
  end
  if G.nb > 0 or G.tkeys ~= '' then
    redis.call('HSET', res, rid, 'o\\n' .. reserve .. '\\n' .. G.bjoined .. '\\n' .. G.tkeys .. '\\n' .. fmt(tokens))
    deadline(resx, now + ttl, rid)
    keep = math.max(keep, 2 * ttl + W)
  end
  if quiet then return {'k'} end
  return out
end

local replies = {}
local nops = tonumber(ARGV[a])
a = a + 1
for _ = 1, nops do
  if ARGV[a] == 's' then
    local at, nk = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 5])
    local late = {}
    for j = 1, nk do late[j] = KEYS[tonumber(ARGV[a + 5 + j])] end
    -- Pruned at the settlement's own instant, as the settle script does: pruned at a later one, a tombstone that
    -- expired in between would let a settlement sent twice be charged twice.
    if prune(res, resx, at, ttl) > 0 then ctr = {} end
    local o = settleOne(res, resx, at, ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4]), ttl, late)
    if o == 'settled' or o == 'late' then
      ctr = {}
      keep = math.max(keep, 2 * ttl + W)
    end
    a = a + 6 + nk
  else
    local G = groups[tonumber(ARGV[a + 1])]
    table.insert(replies, admitOne(G, tonumber(ARGV[a + 2]), ARGV[a + 3], tonumber(ARGV[a + 4]), ARGV[a + 5], a + 6, ARGV[a] == 'q'))
    a = a + 6 + G.nb
  end
end
if keep > 0 then touch(res, resx, keep) end
flushBuckets()
return replies
`;

/**
 * KEYS: res, resx, budget counter keys of the settlement's periods (charged when the request has no record).
 * ARGV: now, requestId, actualPico, actualTokens, ttlMs.
 * Returns 'settled' | 'late' | 'dup' | 'none'.
 */
export const settleLua = `${common}
local res, resx = KEYS[1], KEYS[2]
local now, rid, actual, actualTokens, ttl = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
prune(res, resx, now, ttl)
local outcome = settleOne(res, resx, now, rid, actual, actualTokens, ttl, {unpack(KEYS, 3)})
if outcome == 'settled' or outcome == 'late' then touch(res, resx, 2 * ttl + W) end
flushBuckets()
return outcome
`;

/**
 * KEYS: res, resx, bk, budget counter keys. ARGV: now, ttlMs, nb, then per budget: expireAtMs, seed.
 * Returns {'seed', i…} | {'ok', used1, …}.
 */
export const stateLua = `${common}
local res, resx, bk = KEYS[1], KEYS[2], KEYS[3]
local now, ttl, nb = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local keys, expireAts, seeds = {}, {}, {}
for i = 1, nb do
  keys[i], expireAts[i], seeds[i] = KEYS[3 + i], ARGV[2 + 2 * i], ARGV[3 + 2 * i]
end
local missing, vals = ensureCounters(bk, keys, expireAts, seeds)
if #missing > 0 then
  table.insert(missing, 1, 'seed')
  return missing
end
local pruned = prune(res, resx, now, ttl)
local out = {'ok'}
for i = 1, nb do
  if pruned == 0 and vals[i] then table.insert(out, vals[i]) else table.insert(out, redis.call('GET', keys[i]) or '0') end
end
return out
`;

/** KEYS: res, bk. Drops every budget counter of the tenant; open reservations become `r` (their amount is in no counter). */
export const resetLua = `${common}
local res, bk = KEYS[1], KEYS[2]
for _, k in ipairs(redis.call('SMEMBERS', bk)) do redis.call('DEL', k) end
redis.call('DEL', bk)
local all = redis.call('HGETALL', res)
for i = 1, #all, 2 do
  if string.sub(all[i + 1], 1, 1) == 'o' then redis.call('HSET', res, all[i], 'r' .. string.sub(all[i + 1], 2)) end
end
return 1
`;
