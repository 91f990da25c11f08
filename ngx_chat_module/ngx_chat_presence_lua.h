/*
 * The presence script: every change of a user's presence hash
 * "chat:p:<user>" is one call of it, so that two nginx workers (or nodes)
 * never both announce, or both miss, a change. It touches that one key
 * only (Redis Cluster runs it on the key's shard); PUBLISH is not a key.
 *
 * Fields: "i:<instance>" for each nginx worker that holds a device of the
 * user; "st" the announced status; "ls" last seen (ms, digits: one that is
 * not, or is too long for a Lua number to hold exactly, is replaced rather
 * than announced); "v" the number of announcements, which orders them. A
 * change is published on "chat:pr:<user>" as "<v>\n<presence frame>".
 *
 * ARGV[1] is the operation, ARGV[2] the user:
 *   up     ARGV[3] instance, ARGV[4] now       a device connected there
 *   down   ARGV[3] instance, ARGV[4] last seen if it was the last device,
 *          ARGV[5] now, ARGV[6] grace          returns the last seen to
 *          settle at (last seen + grace), or 0 when there is nothing to do
 *   settle ARGV[3] the last seen that down returned: offline now, unless
 *          a device came back or went away again since
 */

#ifndef NGX_CHAT_PRESENCE_LUA_H
#define NGX_CHAT_PRESENCE_LUA_H


#define NGX_CHAT_PRESENCE_RETENTION  "2592000000"    /* 30 days, in ms */

#define NGX_CHAT_PRESENCE_LUA                                                 \
"local k, op, user = KEYS[1], ARGV[1], ARGV[2]\n"                             \
"local function any_device()\n"                                               \
"  for _, f in ipairs(redis.call('HKEYS', k)) do\n"                           \
"    if string.sub(f, 1, 2) == 'i:' then return true end\n"                   \
"  end\n"                                                                     \
"  return false\n"                                                            \
"end\n"                                                                       \
"local function announce(status, ls)\n"                                       \
"  local v = redis.call('HINCRBY', k, 'v', 1)\n"                              \
"  redis.call('HSET', k, 'st', status)\n"                                     \
"  local f = '{\"type\":\"presence\",\"user\":\"' .. user\n"                  \
"            .. '\",\"status\":\"' .. status .. '\"'\n"                       \
"  if ls then f = f .. ',\"last_seen\":' .. ls end\n"                         \
"  redis.call('PUBLISH', '" CHAT_KEY_PRESENCE_CHANNEL "' .. user,\n"         \
"             v .. '\\n' .. f .. '}')\n"                                      \
"end\n"                                                                       \
"local function offline(ls)\n"                                                \
"  announce('offline', ls)\n"                                                 \
"  redis.call('PEXPIRE', k, " NGX_CHAT_PRESENCE_RETENTION ")\n"               \
"end\n"                                                                       \
"if op == 'up' then\n"                                                        \
"  redis.call('HSET', k, 'i:' .. ARGV[3], ARGV[4])\n"                         \
"  redis.call('PERSIST', k)\n"                                                \
"  if redis.call('HGET', k, 'st') ~= 'online' then announce('online') end\n"  \
"  return 0\n"                                                                \
"end\n"                                                                       \
"if op == 'down' then\n"                                                      \
"  local removed = redis.call('HDEL', k, 'i:' .. ARGV[3])\n"                  \
"  if any_device() or redis.call('HGET', k, 'st') ~= 'online' then\n"         \
"    return 0\n"                                                              \
"  end\n"                                                                     \
"  local ls = redis.call('HGET', k, 'ls')\n"                                  \
"  if removed == 1 or not ls or #ls > 15\n"                                   \
"     or not string.match(ls, '^%d+$') then\n"                                \
"    ls = ARGV[4]\n"                                                          \
"    redis.call('HSET', k, 'ls', ls)\n"                                       \
"  end\n"                                                                     \
"  if tonumber(ls) + tonumber(ARGV[6]) <= tonumber(ARGV[5]) then\n"           \
"    offline(ls)\n"                                                           \
"    return 0\n"                                                              \
"  end\n"                                                                     \
"  return tonumber(ls)\n"                                                     \
"end\n"                                                                       \
"if op == 'settle' then\n"                                                    \
"  if any_device() or redis.call('HGET', k, 'st') ~= 'online'\n"              \
"     or redis.call('HGET', k, 'ls') ~= ARGV[3] then\n"                       \
"    return 0\n"                                                              \
"  end\n"                                                                     \
"  offline(ARGV[3])\n"                                                        \
"  return 1\n"                                                                \
"end\n"                                                                       \
"return redis.error_reply('unknown presence operation')\n"


#endif /* NGX_CHAT_PRESENCE_LUA_H */
