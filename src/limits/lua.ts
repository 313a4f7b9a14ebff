// The Lua scripts of the Redis limiter: admit (all limits + budget reservation), settle, state, reset. One round trip each.
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

-- Takes an amount back out of a counter that still exists.
local function unreserve(key, amount)
  if amount == '0' or redis.call('EXISTS', key) == 0 then return end
  decrease(key, amount)
end

-- Which of \`keys\` exist (key → true/false), in one EXISTS when all or none do. A script's keys do not expire while it
-- runs (Redis freezes their clock at its start), so the answer holds for the whole script as long as it deletes none
-- and creates none of them (DECRBY, SET KEEPTTL and INCRBY here only ever write counters that exist).
local function existing(keys)
  local ex = {}
  if #keys == 0 then return ex end
  local all = redis.call('EXISTS', unpack(keys))
  if all == #keys or all == 0 then -- EXISTS counts a key named twice twice
    for _, k in ipairs(keys) do ex[k] = all > 0 end
  else
    for _, k in ipairs(keys) do if ex[k] == nil then ex[k] = redis.call('EXISTS', k) == 1 end end
  end
  return ex
end

-- Adds an amount to each of \`keys\` that \`ex\` (from existing()) says exists.
local function chargeExisting(keys, ex, amount)
  for _, k in ipairs(keys) do if ex[k] then redis.call('INCRBY', k, amount) end end
end

-- Leaky bucket level at \`now\` from its HMGET l t n (0 when the bucket does not exist), drained at \`limit\` or at the
-- stored one.
local function drained(v, now, limit)
  if not v[1] then return 0 end
  local l, t = tonumber(v[1]), tonumber(v[2])
  local n = limit or tonumber(v[3])
  local dt = now - t
  if dt < 0 then dt = 0 end
  if dt > W then dt = W end
  l = l - dt * n
  if l < 0 then l = 0 end
  return l
end

local function level(key, now, limit)
  return drained(redis.call('HMGET', key, 'l', 't', 'n'), now, limit)
end

local function putLevel(key, l, now, n)
  redis.call('HSET', key, 'l', fmt(l), 't', fmt(now), 'n', fmt(n))
  redis.call('PEXPIRE', key, math.ceil(l / n) + W)
end

-- Returns expired open reservations to their counters (bounded work per call) and drops old tombstones. Returns how
-- many records it went through: 0 = it wrote nothing.
local function prune(res, resx, now, ttl)
  local ids = redis.call('ZRANGEBYSCORE', resx, '-inf', now, 'LIMIT', 0, 200)
  for _, id in ipairs(ids) do
    local rec = redis.call('HGET', res, id)
    if rec and string.sub(rec, 1, 1) == 'o' then
      local r = parse(rec)
      for _, k in ipairs(r.bkeys) do unreserve(k, r.amount) end
      redis.call('HSET', res, id, 'x' .. string.sub(rec, 2))
      redis.call('ZADD', resx, now + ttl, id)
    else
      redis.call('HDEL', res, id)
      redis.call('ZREM', resx, id)
    end
  end
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

-- Seeds missing counters from ARGV seeds ('' = none given); returns the 1-based indices still missing, and the values
-- read on the way in (MGET: a counter's string as GET gives it, false for one missing — or not a string, which EXISTS
-- then tells apart). A value read stays the counter's own until something writes counters: seeding only creates the
-- ones read as false.
local function ensureCounters(bk, keys, first, nb, argv, a0, stride)
  local missing, vals = {}, {}
  if nb > 0 then vals = redis.call('MGET', unpack(keys, first, first + nb - 1)) end
  for i = 1, nb do
    local key = keys[first + i - 1]
    local a = a0 + (i - 1) * stride
    if not vals[i] and redis.call('EXISTS', key) == 0 then
      local seed = argv[a + 2]
      if seed ~= '' then
        redis.call('SET', key, seed, 'PXAT', argv[a + 1])
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

-- Settles one request (the settle script, and the settlements riding on an admission): gives its reservation back,
-- charges its actual cost, corrects its token buckets by actual − estimated tokens and leaves a tombstone. With no record
-- the actual cost goes to keys[from..to], the budget counters of its periods. Returns 'settled' | 'late' | 'dup' |
-- 'none'; only the first two write (the caller then keeps the reservation keys alive: touch).
local function settleOne(res, resx, now, rid, actual, actualTokens, ttl, keys, from, to)
  local rec = redis.call('HGET', res, rid)
  local outcome
  if rec then
    local r = parse(rec)
    if r.state == 's' then return 'dup' end
    -- Every unreserve, then every charge (the order matters when a counter is clamped at zero), only on counters that
    -- exist; existence asked once, and not at all when there is nothing to write.
    local back = r.state == 'o' and r.amount ~= '0'
    if back or actual ~= '0' then
      local ex = existing(r.bkeys)
      if back then for _, k in ipairs(r.bkeys) do if ex[k] then decrease(k, r.amount) end end end
      if actual ~= '0' then chargeExisting(r.bkeys, ex, actual) end
    end
    local delta = actualTokens - r.est
    if delta ~= 0 then
      for _, k in ipairs(r.tkeys) do
        -- putLevel writes l, t and n together and nothing else writes a bucket: l is there iff the bucket exists.
        local v = redis.call('HMGET', k, 'l', 't', 'n')
        if v[1] then
          -- A settlement may carry an earlier instant than the bucket's last update: never move its clock back.
          local at = math.max(now, tonumber(v[2]))
          local n = tonumber(v[3])
          local l = drained(v, at, n) + delta * W
          if l < 0 then l = 0 end
          putLevel(k, l, at, n)
        end
      end
    end
    if r.state == 'o' then outcome = 'settled' else outcome = 'late' end
  else
    if to < from then return 'none' end
    if actual ~= '0' then
      local late = {unpack(keys, from, to)}
      chargeExisting(late, existing(late), actual)
    end
    outcome = 'late'
  end
  redis.call('HSET', res, rid, 's')
  redis.call('ZADD', resx, now + ttl, rid)
  return outcome
end
`;

/**
 * KEYS: res, resx, bk, rate keys (nr), budget counter keys (nb), then each riding settlement's budget counter keys.
 * ARGV: now, requestId, tokens, ttlMs, nr, nb, then per rate key: kind (r|t), limit;
 *       then per budget: mode (h|s), expireAtMs, seed ('' or pico), threshold (limit − reserve), reserve;
 *       then tokenKeysForRecord (tab-separated);
 *       then ns, and per riding settlement: now, requestId, actualPico, actualTokens, its number of budget keys.
 * Riding settlements are the same tenant's (redis-limiter.ts): applied first, exactly as the settle script would have
 * been just before this admission, whatever the admission's answer.
 * Returns {'seed', i…} | {'ok', rem1, reset1, …, used1, …} | {'no', kind, retryMs, rem1, reset1, …, used1, …, budgetIndex}.
 */
export const admitLua = `${common}
local res, resx, bk = KEYS[1], KEYS[2], KEYS[3]
local now, rid, tokens, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local nr, nb = tonumber(ARGV[5]), tonumber(ARGV[6])
local b0 = 7 + 2 * nr
local tkeys, ns = ARGV[b0 + nb * 5], tonumber(ARGV[b0 + nb * 5 + 1])
-- The riding settlements wrote: the reservation keys must be kept alive (by the record's touch below, or on their own).
local settledHere = false
local pruned = 0
if ns > 0 then
  local a, k = b0 + nb * 5 + 2, 4 + nr + nb
  for _ = 1, ns do
    local nk, at = tonumber(ARGV[a + 4]), tonumber(ARGV[a])
    -- Pruned at the settlement's own instant, as the settle script does: pruned at the admission's, a tombstone that
    -- expired in between would let a settlement sent twice be charged twice.
    prune(res, resx, at, ttl)
    local o = settleOne(res, resx, at, ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]), ttl, KEYS, k, k + nk - 1)
    if o == 'settled' or o == 'late' then settledHere = true end
    a, k = a + 5, k + nk
  end
end
-- Read after the settlements: the values stay the counters' own (pruned = 0) until this script writes counters again.
local missing, vals = ensureCounters(bk, KEYS, 4 + nr, nb, ARGV, b0, 5)
if #missing > 0 then
  if settledHere then touch(res, resx, 2 * ttl + W) end
  table.insert(missing, 1, 'seed')
  return missing
end
pruned = prune(res, resx, now, ttl)

local cur, nxt, out, refusal, retry = {}, {}, {}, nil, 0
for i = 1, nr do
  local kind, n = ARGV[5 + 2 * i], tonumber(ARGV[6 + 2 * i])
  local cost = 1
  if kind == 't' then cost = tokens end
  cur[i] = level(KEYS[3 + i], now, n)
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
for i = 1, nb do
  local key = KEYS[3 + nr + i]
  -- The value ensureCounters read, unless prune may have written counters since (or it was not read as a string).
  if pruned == 0 and vals[i] then used[i] = vals[i] else used[i] = redis.call('GET', key) or '0' end
  local a = b0 + (i - 1) * 5
  if ARGV[a] == 'h' and budgetRefusal == 0 and cmp(used[i], ARGV[a + 3]) > 0 then budgetRefusal = i end
end

local function rateOut(levels)
  for i = 1, nr do
    local n = tonumber(ARGV[6 + 2 * i])
    table.insert(out, math.floor((n * W - levels[i]) / W))
    table.insert(out, math.ceil(levels[i] / n))
  end
end

-- All or nothing: a refusal changes nothing of the admission's own (the riding settlements stand).
if refusal ~= nil or budgetRefusal > 0 then
  out = {'no', refusal or 'b', retry}
  rateOut(cur)
  for i = 1, nb do table.insert(out, used[i]) end
  table.insert(out, budgetRefusal)
  if settledHere then touch(res, resx, 2 * ttl + W) end
  return out
end

out = {'ok'}
-- The same request id admitted again (a retried admission) replaces its earlier reservation.
local old = redis.call('HGET', res, rid)
if old and string.sub(old, 1, 1) == 'o' then
  local r = parse(old)
  for _, k in ipairs(r.bkeys) do unreserve(k, r.amount) end
end
for i = 1, nr do putLevel(KEYS[3 + i], nxt[i], now, tonumber(ARGV[6 + 2 * i])) end
rateOut(nxt)
local reserve, bkeys, keep = '0', {}, 2 * ttl + W
local t = redis.call('TIME')
local serverNow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, nb do
  local key, a = KEYS[3 + nr + i], b0 + (i - 1) * 5
  reserve = ARGV[a + 4]
  keep = math.max(keep, tonumber(ARGV[a + 1]) - serverNow)
  if reserve ~= '0' then redis.call('INCRBY', key, reserve) end
  used[i] = redis.call('GET', key) or '0'
  table.insert(bkeys, key)
  table.insert(out, used[i])
end
if nb > 0 or tkeys ~= '' then
  redis.call('HSET', res, rid, 'o\\n' .. reserve .. '\\n' .. table.concat(bkeys, '\\t') .. '\\n' .. tkeys .. '\\n' .. fmt(tokens))
  redis.call('ZADD', resx, now + ttl, rid)
  touch(res, resx, keep) -- keep ≥ 2 × ttl + W: covers the riding settlements too
elseif settledHere then
  touch(res, resx, 2 * ttl + W)
end
return out
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
local outcome = settleOne(res, resx, now, rid, actual, actualTokens, ttl, KEYS, 3, #KEYS)
if outcome == 'settled' or outcome == 'late' then touch(res, resx, 2 * ttl + W) end
return outcome
`;

/**
 * KEYS: res, resx, bk, budget counter keys. ARGV: now, ttlMs, nb, then per budget: unused, expireAtMs, seed.
 * Returns {'seed', i…} | {'ok', used1, …}.
 */
export const stateLua = `${common}
local res, resx, bk = KEYS[1], KEYS[2], KEYS[3]
local now, ttl, nb = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local missing, vals = ensureCounters(bk, KEYS, 4, nb, ARGV, 4, 3)
if #missing > 0 then
  table.insert(missing, 1, 'seed')
  return missing
end
local pruned = prune(res, resx, now, ttl)
local out = {'ok'}
for i = 1, nb do
  if pruned == 0 and vals[i] then table.insert(out, vals[i]) else table.insert(out, redis.call('GET', KEYS[3 + i]) or '0') end
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
