-- The presence script: every change of a user's presence hash
-- "chat:p:{<user>}" is one call of it, so that two nginx workers (or nodes)
-- never both announce, or both miss, a change. It touches that one key
-- only (Redis Cluster runs it on the key's shard), and publishes on the
-- user's presence channel, which has the same hash tag, so the same slot:
-- with SPUBLISH on a cluster (the module then passes "SPUBLISH" as the
-- last argument), PUBLISH on a plain Redis.
--
-- Fields: "i:<instance>" for each nginx worker that holds a device of the
-- user; "st" the announced status; "ls" last seen (ms, digits: one that is
-- not, or is too long for a Lua number to hold exactly, is replaced rather
-- than announced); "v" the number of announcements, which orders them. A
-- change is published on "chat:pr:{<user>}" as "<v>\n<presence frame>".
--
-- ARGV[1] is the operation, ARGV[2] the user:
--   up     ARGV[3] instance, ARGV[4] now       a device connected there
--   down   ARGV[3] instance, ARGV[4] last seen if it was the last device,
--          ARGV[5] now, ARGV[6] grace          returns the last seen to
--          settle at (last seen + grace), or 0 when there is nothing to do
--   settle ARGV[3] the last seen that down returned: offline now, unless
--          a device came back or went away again since
--
-- @NAME@ is a C string macro of ngx_chat_presence_lua.h (scripts/lua-header).
local k, op, user = KEYS[1], ARGV[1], ARGV[2]
local publish = 'PUBLISH'
if ARGV[#ARGV] == 'SPUBLISH' then publish = 'SPUBLISH' end
local function any_device()
  for _, f in ipairs(redis.call('HKEYS', k)) do
    if string.sub(f, 1, 2) == 'i:' then return true end
  end
  return false
end
local function announce(status, ls)
  local v = redis.call('HINCRBY', k, 'v', 1)
  redis.call('HSET', k, 'st', status)
  local f = '{"type":"presence","user":"' .. user
            .. '","status":"' .. status .. '"'
  if ls then f = f .. ',"last_seen":' .. ls end
  redis.call(publish, '@CHAT_KEY_PRESENCE_CHANNEL@@CHAT_KEY_TAG_OPEN@'
             .. user .. '@CHAT_KEY_TAG_CLOSE@', v .. '\n' .. f .. '}')
end
local function offline(ls)
  announce('offline', ls)
  redis.call('PEXPIRE', k, @NGX_CHAT_PRESENCE_RETENTION@)
end
if op == 'up' then
  redis.call('HSET', k, 'i:' .. ARGV[3], ARGV[4])
  redis.call('PERSIST', k)
  if redis.call('HGET', k, 'st') ~= 'online' then announce('online') end
  return 0
end
if op == 'down' then
  local removed = redis.call('HDEL', k, 'i:' .. ARGV[3])
  if any_device() or redis.call('HGET', k, 'st') ~= 'online' then
    return 0
  end
  local ls = redis.call('HGET', k, 'ls')
  if removed == 1 or not ls or #ls > 15
     or not string.match(ls, '^%d+$') then
    ls = ARGV[4]
    redis.call('HSET', k, 'ls', ls)
  end
  if tonumber(ls) + tonumber(ARGV[6]) <= tonumber(ARGV[5]) then
    offline(ls)
    return 0
  end
  return tonumber(ls)
end
if op == 'settle' then
  if any_device() or redis.call('HGET', k, 'st') ~= 'online'
     or redis.call('HGET', k, 'ls') ~= ARGV[3] then
    return 0
  end
  offline(ARGV[3])
  return 1
end
return redis.error_reply('unknown presence operation')
