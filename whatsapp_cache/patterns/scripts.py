"""Lua for the caching patterns; each is one atomic step on one user's keys (and write-behind's stream, on one Redis)."""

# Fill from the database only if no write set a new generation since the reader claimed it, no
# write-behind write is still queued (the version counter is not ahead of the row read), and
# never over a newer cached version (write-behind's cache can be ahead of the database). A key of
# another type where the record belongs is replaced; one in the generation refuses the fill.
# KEYS: value, generation, write-behind version counter. ARGV: the reader's token, TTL ms, record, its version.
GUARDED_SET = """
local current = redis.pcall('GET', KEYS[2])
if type(current) == 'table' then
  redis.call('DEL', KEYS[2])
  return 0
end
if current ~= ARGV[1] then return 0 end
local pending = tonumber(redis.pcall('GET', KEYS[3]))
if pending ~= nil and pending > tonumber(ARGV[4]) then return 0 end
local cached = redis.pcall('GET', KEYS[1])
if type(cached) == 'string' then
  local version = tonumber(string.match(cached, '^{"version":(%d+),'))
  if version ~= nil and version >= tonumber(ARGV[4]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
return 1
"""

# Store a record only if it is newer than the cached one (records start {"version":N,); a value of
# another type in its place is replaced. KEYS: value. ARGV: version, TTL ms, record.
SET_IF_NEWER = """
local cached = redis.pcall('GET', KEYS[1])
if type(cached) == 'string' then
  local version = tonumber(string.match(cached, '^{"version":(%d+),'))
  if version ~= nil and version >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
return 1
"""

# Write-behind: next version, queued update and cached record, all or nothing; the new generation
# refuses fills already in flight (they read the database, which lags the queue), and the user's
# profile hash, another copy of the same row, is dropped (its fills wait for the worker: see FILL).
# KEYS: value, version counter, generation, profile, and the stream (left out on a Redis Cluster,
# where it lives in another slot: the caller then XADDs the entry itself, see write_behind.py).
# ARGV: value as JSON, now ms, TTL ms, user id, expiry ms, the counter's floor (now * 1000:
# versions never fall behind the clock, so they stay ahead of earlier ones even after Redis lost
# the counter or the database took a write without it), the new generation token.
# A counter or stream key holding something foreign is replaced (the counter restarts from the
# floor). The record is written last, so a failing XADD never leaves a cached write that is not queued.
# The version is read back with GET: Lua would print a 16-digit number in exponent form.
WRITE_BEHIND = """
redis.call('SET', KEYS[3], ARGV[7], 'PX', ARGV[3])
redis.call('DEL', KEYS[4])
local counted = redis.pcall('INCR', KEYS[2])
if type(counted) == 'table' then
  redis.call('DEL', KEYS[2])
  counted = redis.call('INCR', KEYS[2])
end
if counted <= tonumber(ARGV[6]) then
  redis.call('SET', KEYS[2], ARGV[6])
  redis.call('INCR', KEYS[2])
end
local version = redis.call('GET', KEYS[2])
if KEYS[5] then
  local kind = redis.call('TYPE', KEYS[5]).ok
  if kind ~= 'stream' and kind ~= 'none' then redis.call('DEL', KEYS[5]) end
  redis.call('XADD', KEYS[5], '*', 'user_id', ARGV[4], 'version', version, 'value', ARGV[1], 'enqueued_ms', ARGV[2])
end
local record = '{"version":' .. version .. ',"exp":' .. ARGV[5] .. ',"v":1,"value":' .. ARGV[1] .. '}'
redis.call('SET', KEYS[1], record, 'PX', ARGV[3])
return version
"""

# The worker, once the database has a user's version: drop the copies that may hold an older value
# (a fill that slipped in while the counter was lost), keep a cached record at or past that version.
# KEYS: status record, generation, profile. ARGV: the applied version, new token, generation TTL ms.
APPLIED = """
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[3])
local cached = redis.pcall('GET', KEYS[1])
if type(cached) == 'string' then
  local version = tonumber(string.match(cached, '^{"version":(%d+),'))
  if version ~= nil and version >= tonumber(ARGV[1]) then return 0 end
end
redis.call('DEL', KEYS[1])
return 1
"""
