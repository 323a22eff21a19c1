"""Lua for the caching patterns; each is one atomic step on one user's keys (and write-behind's stream, on one Redis)."""

# Fill from the database only if no write bumped the generation since the reader looked,
# and never over a newer cached version (write-behind's cache can be ahead of the database).
# KEYS: value, generation. ARGV: expected generation, TTL ms, record, its version.
GUARDED_SET = """
local current = redis.call('GET', KEYS[2]) or ''
if current ~= ARGV[1] then return 0 end
local cached = redis.call('GET', KEYS[1])
if cached then
  local version = tonumber(string.match(cached, '^{"version":(%d+),'))
  if version ~= nil and version >= tonumber(ARGV[4]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
return 1
"""

# Store a record only if it is newer than the cached one (records start {"version":N,).
# KEYS: value. ARGV: version, TTL ms, record.
SET_IF_NEWER = """
local cached = redis.call('GET', KEYS[1])
if cached then
  local version = tonumber(string.match(cached, '^{"version":(%d+),'))
  if version ~= nil and version >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
return 1
"""

# Write-behind: next version, cached record and queued update, all or nothing; the generation
# bump refuses fills already in flight (they read the database, which lags the queue).
# KEYS: value, version counter, generation, and the stream (left out on a Redis Cluster, where it
# lives in another slot: the caller then XADDs the entry itself, see write_behind.py).
# ARGV: value as JSON, now ms, TTL ms, user id, expiry ms, the counter's floor (now * 1000:
# versions never fall behind the clock, so they stay ahead of earlier ones even after Redis lost
# the counter or the database took a write without it).
# The version is read back with GET: Lua would print a 16-digit number in exponent form.
WRITE_BEHIND = """
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
if redis.call('INCR', KEYS[2]) <= tonumber(ARGV[6]) then
  redis.call('SET', KEYS[2], ARGV[6])
  redis.call('INCR', KEYS[2])
end
local version = redis.call('GET', KEYS[2])
local record = '{"version":' .. version .. ',"exp":' .. ARGV[5] .. ',"v":1,"value":' .. ARGV[1] .. '}'
redis.call('SET', KEYS[1], record, 'PX', ARGV[3])
if KEYS[4] then
  redis.call('XADD', KEYS[4], '*', 'user_id', ARGV[4], 'version', version, 'value', ARGV[1], 'enqueued_ms', ARGV[2])
end
return version
"""
