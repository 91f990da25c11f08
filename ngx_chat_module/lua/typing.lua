-- A typing frame to a group: KEYS[1] the group's members (a set), ARGV[1]
-- the sender, ARGV[2] the payload. Publishes it to every other member's
-- channel, "chat:u:{<member>}"; -1 when the sender is not a member, else
-- how many got it. A plain Redis only: on a Redis Cluster a member's
-- channel is on the member's shard, and the module fans out itself.
-- @NAME@ is a C string macro of the module (scripts/lua-header).
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return -1 end
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if m ~= ARGV[1] then
    redis.call('PUBLISH', '@CHAT_KEY_USER_CHANNEL@@CHAT_KEY_TAG_OPEN@' .. m
               .. '@CHAT_KEY_TAG_CLOSE@', ARGV[2])
    n = n + 1
  end
end
return n
