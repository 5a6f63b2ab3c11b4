package redislock

import "github.com/redis/go-redis/v9"

// The scripts run atomically on the server. Each compares the key's value
// with the hold's random id before touching it, so a holder never extends or
// frees a lock that has passed to someone else.

// acquireSource is SET key id NX PX lease, numbered: if the key is free it
// INCRs the fence key and sets the key, atomically, so token order is
// acquisition order. The INCR comes first because Redis does not roll back a
// script's earlier writes when a later command fails: a fence key that holds
// a non-integer fails the script before the key is set. (EXISTS then SET in
// one script is SET NX.)
// KEYS[1] lock key, KEYS[2] fence key; ARGV[1] id, ARGV[2] lease in ms.
// Returns the fencing token, or 0 if the key is taken.
const acquireSource = `
if redis.call('EXISTS', KEYS[1]) == 1 then
	return 0
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return token
`

// renewSource extends the key's lease if it still holds our id.
// KEYS[1] lock key; ARGV[1] id, ARGV[2] lease in ms. Returns 1 or 0.
const renewSource = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`

// releaseSource deletes the key if it still holds our id.
// KEYS[1] lock key; ARGV[1] id. Returns 1 or 0.
const releaseSource = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`

var (
	acquireScript = redis.NewScript(acquireSource)
	renewScript   = redis.NewScript(renewSource)
	releaseScript = redis.NewScript(releaseSource)
)
