"""The Lua scripts that make each cache write atomic (value, marker and TTL in one step): the data types' and
the caching patterns'.

Each script's comment lists its KEYS and ARGV. All of an entry's keys share a hash tag, so the scripts also
run on Redis Cluster (a script runs on the node of its first key, and all its keys must be in one slot).
"""

from __future__ import annotations

import redis


# Fill an entry from the database, only if no write happened since the reader looked (the
# generation still holds the token the reader claimed; see generation.py) and, for a user's row,
# no write-behind write is still queued (its version counter is not ahead of the row read).
# KEYS: data, generation[, write-behind version counter].
# ARGV: the reader's token ('*' + a new token: a writer's own fill, which sets it instead),
# TTL ms, kind (hash|list|set), marker, the row's version ('' = no such check), items...
# Items go in 1000 at a time (an even number: hash fields stay with their values), as Lua
# unpacks at most about 8000 values into one call: a group of 70,000 members fills too.
# Returns 1 filled, 0 refused, -1 refused and a foreign generation value dropped.
FILL = """
local unpack = table.unpack or unpack
if string.sub(ARGV[1], 1, 1) == '*' then
  redis.call('SET', KEYS[2], string.sub(ARGV[1], 2), 'PX', ARGV[2])
else
  local current = redis.pcall('GET', KEYS[2])
  if type(current) == 'table' then
    redis.call('DEL', KEYS[2])
    return -1
  end
  if current ~= ARGV[1] then return 0 end
end
if KEYS[3] and ARGV[5] ~= '' then
  local pending = tonumber(redis.pcall('GET', KEYS[3]))
  if pending ~= nil and pending > tonumber(ARGV[5]) then return 0 end
end
local function add(command)
  for first = 6, #ARGV, 1000 do
    redis.call(command, KEYS[1], unpack(ARGV, first, math.min(first + 999, #ARGV)))
  end
end
redis.call('DEL', KEYS[1])
local kind = ARGV[3]
if kind == 'hash' then
  redis.call('HSET', KEYS[1], '~meta', ARGV[4])
  add('HSET')
elseif kind == 'list' then
  add('RPUSH')
  redis.call('RPUSH', KEYS[1], ARGV[4])
else
  redis.call('SADD', KEYS[1], ARGV[4])
  add('SADD')
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# Drop an entry (and every other cached copy of its row) and set a new generation, so a fill
# already in flight is refused. KEYS: data, generation, other copies... ARGV: generation TTL ms, new token.
INVALIDATE = """
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1])
local dropped = redis.call('DEL', KEYS[1])
for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
return dropped
"""

# Put one message into a cached newest-first list, only if the list is complete and fresh.
# Returns 1 inserted, 0 nothing cached, 2 already present, 3 older than all kept, -1 dropped
# (an incomplete list or a key of another type).
# ARGV: message JSON (starting {"id":N,), message id, max messages, now ms, generation TTL ms, new token.
PUSH_MESSAGE = """
redis.call('SET', KEYS[2], ARGV[6], 'PX', ARGV[5])
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return 0 end
local marker = kind == 'list' and redis.call('LINDEX', KEYS[1], -1) or ''
if string.sub(marker, 1, 5) ~= '~meta' then
  redis.call('DEL', KEYS[1])
  return -1
end
local expires = tonumber(string.match(marker, '"exp":(%d+)'))
if expires == nil or expires <= tonumber(ARGV[4]) then return 0 end
if string.find(marker, '"missing":true', 1, true) then
  redis.call('DEL', KEYS[1])
  return 0
end
local id = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local items = redis.call('LRANGE', KEYS[1], 0, -2)
local pivot = marker
for _, item in ipairs(items) do
  local other = tonumber(string.match(item, '^{"id":(%d+),'))
  if other == id then return 2 end
  if other ~= nil and other < id then pivot = item break end
end
if pivot == marker and #items >= limit then return 3 end
redis.call('LINSERT', KEYS[1], 'BEFORE', pivot, ARGV[1])
if #items + 1 > limit then
  redis.call('RPOP', KEYS[1])
  redis.call('RPOP', KEYS[1])
  redis.call('RPUSH', KEYS[1], marker)
end
return 1
"""

# Add or remove one member of a cached set, only if the set is complete and fresh, and only if no
# other write to the group came between the writer's database write and this script (the generation
# still holds the token it claimed before writing): two writers' changes may reach Redis in another
# order than the database's, and an add applied after a later remove would keep a member the database
# dropped. Returns 1 changed, 0 nothing cached, -1 dropped a partial set (or a key of another type),
# -2 dropped after another write. ARGV: op, member, now ms, generation TTL ms, token claimed before
# the write, new token.
CHANGE_MEMBER = """
local unchanged = redis.pcall('GET', KEYS[2]) == ARGV[5]
redis.call('SET', KEYS[2], ARGV[6], 'PX', ARGV[4])
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return 0 end
if not unchanged then
  redis.call('DEL', KEYS[1])
  return -2
end
local marker = nil
for _, member in ipairs(kind == 'set' and redis.call('SMEMBERS', KEYS[1]) or {}) do
  if string.sub(member, 1, 5) == '~meta' then marker = member break end
end
if marker == nil then
  redis.call('DEL', KEYS[1])
  return -1
end
local expires = tonumber(string.match(marker, '"exp":(%d+)'))
if expires == nil or expires <= tonumber(ARGV[3]) or string.find(marker, '"missing":true', 1, true) then
  redis.call('DEL', KEYS[1])
  return 0
end
if ARGV[1] == 'add' then redis.call('SADD', KEYS[1], ARGV[2]) else redis.call('SREM', KEYS[1], ARGV[2]) end
return 1
"""

# Remove presence entries older than the cutoff, once per interval across all servers.
# KEYS: presence sorted set, the interval's lease key. ARGV: cutoff ms, lease TTL ms.
CLEANUP_PRESENCE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then
  return redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
end
return -1
"""

# The users who went offline (last seen before the cutoff), at most ARGV[3] of them, once per
# interval across all servers; false if another server already took the interval.
# KEYS: presence sorted set, the interval's lease key. ARGV: cutoff ms, lease TTL ms, batch.
WENT_OFFLINE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then
  return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[3])
end
return false
"""

# Forget users whose last-seen the database now has, unless a heartbeat moved them meanwhile.
# KEYS: presence sorted set. ARGV: member, score, member, score...
FORGET_OFFLINE = """
local removed = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
"""


# The caching patterns' scripts (patterns/): each one atomic step on one user's keys (and write-behind's stream, on one Redis).

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


class Scripts:
    """The scripts registered on one client (EVALSHA, falling back to EVAL once)."""

    def __init__(self, client: redis.Redis):
        self.fill = client.register_script(FILL)
        self.invalidate = client.register_script(INVALIDATE)
        self.push_message = client.register_script(PUSH_MESSAGE)
        self.change_member = client.register_script(CHANGE_MEMBER)
        self.cleanup_presence = client.register_script(CLEANUP_PRESENCE)
        self.went_offline = client.register_script(WENT_OFFLINE)
        self.forget_offline = client.register_script(FORGET_OFFLINE)
        self.guarded_set = client.register_script(GUARDED_SET)
        self.set_if_newer = client.register_script(SET_IF_NEWER)
        self.write_behind = client.register_script(WRITE_BEHIND)
        self.applied = client.register_script(APPLIED)

    def names(self) -> dict[str, str]:
        """SHA1 of each script -> its name, to show EVALSHA calls readably."""
        return {script.sha: name for name, script in vars(self).items()}

    def preload(self) -> None:
        """SCRIPT LOAD each script, so the first call of each is one round trip like the rest."""
        for script in vars(self).values():
            script.registered_client.script_load(script.script)
