package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tinyscale/tinyscale"
)

// Scripts run atomically on the Redis server; go-redis sends EVALSHA and
// falls back to EVAL after a Redis restart has flushed the script cache.
var (
	// claimScript: KEYS meetings, created; ARGV id, meeting JSON, score,
	// replaceServerID. Returns {1, JSON} if stored, {0, stored JSON} if not.
	claimScript = goredis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  if ARGV[4] == '' then return {0, cur} end
  local ok, m = pcall(cjson.decode, cur)
  if not ok or type(m) ~= 'table' or m['serverID'] ~= ARGV[4] then return {0, cur} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {1, ARGV[2]}
`)

	// putScript: KEYS meetings, created; ARGV id, meeting JSON, score.
	putScript = goredis.NewScript(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`)

	// deleteScript: KEYS meetings, created; ARGV id, serverID or ''.
	// Returns 1 if deleted, 0 if no such meeting on that server.
	deleteScript = goredis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
if ARGV[2] ~= '' then
  local ok, m = pcall(cjson.decode, cur)
  if not ok or type(m) ~= 'table' or m['serverID'] ~= ARGV[2] then return 0 end
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)

	// leaseScript: KEYS lease; ARGV holder, ttl in ms. Takes a free or
	// expired lease, renews one held by holder. Returns 1 if held.
	leaseScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)
)

// score is a meeting's created-at index score: Unix microseconds. Scores are
// float64 in Redis, which holds microseconds exactly for the years
// 1685-2255 and rounds monotonically beyond, so a score range always holds
// every match; MeetingsSince then filters to the nanosecond.
func score(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// scanCount is the COUNT hint for HSCAN and the chunk size for HMGET.
const scanCount = 1000

// Servers returns all servers ordered by ID.
func (s *Store) Servers(ctx context.Context) ([]tinyscale.Server, error) {
	const op = "list servers"
	all, err := s.c.HGetAll(ctx, s.kServers).Result()
	if err != nil {
		return nil, unavailable(op, err)
	}
	out := make([]tinyscale.Server, 0, len(all))
	for id, v := range all {
		var srv tinyscale.Server
		if err := decode(op, id, v, &srv); err != nil {
			return nil, err
		}
		out = append(out, srv)
	}
	slices.SortFunc(out, func(a, b tinyscale.Server) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// PutServer creates or replaces the server with srv.ID. An empty ID is
// rejected.
func (s *Store) PutServer(ctx context.Context, srv tinyscale.Server) error {
	const op = "put server"
	if srv.ID == "" {
		return invalid(op, "empty server ID")
	}
	v, err := json.Marshal(srv)
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	if err := s.c.HSet(ctx, s.kServers, srv.ID, v).Err(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// DeleteServer removes a server; ErrNotFound if there is none.
func (s *Store) DeleteServer(ctx context.Context, id string) error {
	return s.hdel(ctx, "delete server", s.kServers, id)
}

// hdel deletes one hash field, or reports ErrNotFound.
func (s *Store) hdel(ctx context.Context, op, key, field string) error {
	if field == "" {
		return notFound(op)
	}
	n, err := s.c.HDel(ctx, key, field).Result()
	if err != nil {
		return unavailable(op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// Meeting returns the meeting with the external id; ErrNotFound if unknown.
func (s *Store) Meeting(ctx context.Context, id string) (tinyscale.Meeting, error) {
	const op = "get meeting"
	var m tinyscale.Meeting
	if id == "" {
		return m, notFound(op)
	}
	v, err := s.c.HGet(ctx, s.kMeetings, id).Result()
	if errors.Is(err, goredis.Nil) {
		return m, notFound(op)
	}
	if err != nil {
		return m, unavailable(op, err)
	}
	err = decode(op, id, v, &m)
	return m, err
}

// ClaimMeeting atomically stores m unless a meeting with m.ID is stored on
// a server other than a non-empty replaceServerID. The check and the write
// run as one Lua script, so any number of concurrent claims from any number
// of instances leave exactly one winner.
func (s *Store) ClaimMeeting(ctx context.Context, m tinyscale.Meeting, replaceServerID string) (tinyscale.Meeting, bool, error) {
	const op = "claim meeting"
	if m.ID == "" {
		return tinyscale.Meeting{}, false, invalid(op, "empty meeting ID")
	}
	v, err := json.Marshal(m)
	if err != nil {
		return tinyscale.Meeting{}, false, fmt.Errorf("redis store: %s: %w", op, err)
	}
	res, err := claimScript.Run(ctx, s.c, []string{s.kMeetings, s.kCreated}, m.ID, v, score(m.CreatedAt), replaceServerID).Slice()
	if err != nil {
		return tinyscale.Meeting{}, false, unavailable(op, err)
	}
	if len(res) != 2 {
		return tinyscale.Meeting{}, false, fmt.Errorf("redis store: %s: unexpected script reply of %d elements", op, len(res))
	}
	stored, _ := res[0].(int64)
	cur, _ := res[1].(string)
	if stored == 1 {
		return m, true, nil
	}
	var got tinyscale.Meeting
	if err := decode(op, m.ID, cur, &got); err != nil {
		return tinyscale.Meeting{}, false, err
	}
	return got, false, nil
}

// PutMeeting stores m unconditionally, with its index entry, atomically.
// An empty ID is rejected.
func (s *Store) PutMeeting(ctx context.Context, m tinyscale.Meeting) error {
	const op = "put meeting"
	if m.ID == "" {
		return invalid(op, "empty meeting ID")
	}
	v, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	if err := putScript.Run(ctx, s.c, []string{s.kMeetings, s.kCreated}, m.ID, v, score(m.CreatedAt)).Err(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// DeleteMeeting removes the meeting id if it is stored on serverID (on any
// server when serverID is empty); ErrNotFound otherwise.
func (s *Store) DeleteMeeting(ctx context.Context, id, serverID string) error {
	const op = "delete meeting"
	if id == "" {
		return notFound(op)
	}
	n, err := deleteScript.Run(ctx, s.c, []string{s.kMeetings, s.kCreated}, id, serverID).Int64()
	if err != nil {
		return unavailable(op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// Meetings returns all stored meetings, in no particular order. It reads
// the hash with HSCAN, so a large map does not block Redis; a meeting
// written during the scan may or may not be included.
func (s *Store) Meetings(ctx context.Context) ([]tinyscale.Meeting, error) {
	const op = "list meetings"
	seen := map[string]bool{}
	var out []tinyscale.Meeting
	var cursor uint64
	for {
		kv, next, err := s.c.HScan(ctx, s.kMeetings, cursor, "", scanCount).Result()
		if err != nil {
			return nil, unavailable(op, err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			id := kv[i]
			if seen[id] { // HSCAN may return an element twice
				continue
			}
			seen[id] = true
			var m tinyscale.Meeting
			if err := decode(op, id, kv[i+1], &m); err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		if next == 0 {
			return out, nil
		}
		cursor = next
	}
}

// MeetingsSince returns the meetings with CreatedAt at or after t, oldest
// first. It reads the created-at index from t on, then the meetings in
// chunks.
func (s *Store) MeetingsSince(ctx context.Context, t time.Time) ([]tinyscale.Meeting, error) {
	const op = "list meetings since"
	ids, err := s.c.ZRangeByScore(ctx, s.kCreated, &goredis.ZRangeBy{Min: score(t), Max: "+inf"}).Result()
	if err != nil {
		return nil, unavailable(op, err)
	}
	var out []tinyscale.Meeting
	for chunk := range slices.Chunk(ids, scanCount) {
		vals, err := s.c.HMGet(ctx, s.kMeetings, chunk...).Result()
		if err != nil {
			return nil, unavailable(op, err)
		}
		for i, v := range vals {
			str, ok := v.(string)
			if !ok { // deleted since the index was read
				continue
			}
			var m tinyscale.Meeting
			if err := decode(op, chunk[i], str, &m); err != nil {
				return nil, err
			}
			if m.CreatedAt.Before(t) { // same microsecond, or moved meanwhile
				continue
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// PutHealth stores health records, replacing those with the same ServerID,
// in one command. An empty ServerID is rejected.
func (s *Store) PutHealth(ctx context.Context, hs ...tinyscale.Health) error {
	const op = "put health"
	if len(hs) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(hs))
	for _, h := range hs {
		if h.ServerID == "" {
			return invalid(op, "empty server ID")
		}
		v, err := json.Marshal(h)
		if err != nil {
			return fmt.Errorf("redis store: %s: %w", op, err)
		}
		args = append(args, h.ServerID, v)
	}
	if err := s.c.HSet(ctx, s.kHealth, args...).Err(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// Health returns all stored health records, ordered by ServerID.
func (s *Store) Health(ctx context.Context) ([]tinyscale.Health, error) {
	const op = "list health"
	all, err := s.c.HGetAll(ctx, s.kHealth).Result()
	if err != nil {
		return nil, unavailable(op, err)
	}
	out := make([]tinyscale.Health, 0, len(all))
	for id, v := range all {
		var h tinyscale.Health
		if err := decode(op, id, v, &h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b tinyscale.Health) int { return strings.Compare(a.ServerID, b.ServerID) })
	return out, nil
}

// PutHook creates or replaces a hook. An empty ID is rejected.
func (s *Store) PutHook(ctx context.Context, h tinyscale.Hook) error {
	const op = "put hook"
	if h.ID == "" {
		return invalid(op, "empty hook ID")
	}
	v, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	if err := s.c.HSet(ctx, s.kHooks, h.ID, v).Err(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// Hook returns a hook by ID; ErrNotFound if unknown.
func (s *Store) Hook(ctx context.Context, id string) (tinyscale.Hook, error) {
	const op = "get hook"
	var h tinyscale.Hook
	if id == "" {
		return h, notFound(op)
	}
	v, err := s.c.HGet(ctx, s.kHooks, id).Result()
	if errors.Is(err, goredis.Nil) {
		return h, notFound(op)
	}
	if err != nil {
		return h, unavailable(op, err)
	}
	err = decode(op, id, v, &h)
	return h, err
}

// Hooks returns all hooks ordered by ID (byte order).
func (s *Store) Hooks(ctx context.Context) ([]tinyscale.Hook, error) {
	const op = "list hooks"
	all, err := s.c.HGetAll(ctx, s.kHooks).Result()
	if err != nil {
		return nil, unavailable(op, err)
	}
	out := make([]tinyscale.Hook, 0, len(all))
	for id, v := range all {
		var h tinyscale.Hook
		if err := decode(op, id, v, &h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b tinyscale.Hook) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteHook removes a hook; ErrNotFound if unknown.
func (s *Store) DeleteHook(ctx context.Context, id string) error {
	return s.hdel(ctx, "delete hook", s.kHooks, id)
}

// NextHookID returns the next number of a counter starting at 1, shared by
// every instance (INCR). It is never reused as long as Redis keeps its
// data (see the persistence notes in the package documentation).
func (s *Store) NextHookID(ctx context.Context) (int64, error) {
	n, err := s.c.Incr(ctx, s.kHookSeq).Result()
	if err != nil {
		return 0, unavailable("next hook ID", err)
	}
	return n, nil
}

// PutRecordings remembers which server holds each recordID, in one
// command. An empty recordID is rejected.
func (s *Store) PutRecordings(ctx context.Context, recs map[string]string) error {
	const op = "put recordings"
	if len(recs) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(recs))
	for rec, srv := range recs {
		if rec == "" {
			return invalid(op, "empty record ID")
		}
		args = append(args, rec, srv)
	}
	if err := s.c.HSet(ctx, s.kRecordings, args...).Err(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// RecordingServer returns the server ID holding recordID; ErrNotFound if
// unknown.
func (s *Store) RecordingServer(ctx context.Context, recordID string) (string, error) {
	const op = "get recording"
	if recordID == "" {
		return "", notFound(op)
	}
	v, err := s.c.HGet(ctx, s.kRecordings, recordID).Result()
	if errors.Is(err, goredis.Nil) {
		return "", notFound(op)
	}
	if err != nil {
		return "", unavailable(op, err)
	}
	return v, nil
}

// Once reports true if key was not seen within its ttl, and marks it seen
// for ttl (SET NX PX; Redis expires the key). The key must be non-empty and
// ttl positive; sub-millisecond ttls count as one millisecond.
func (s *Store) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	const op = "once"
	if key == "" {
		return false, invalid(op, "empty key")
	}
	if ttl <= 0 {
		return false, invalid(op, "ttl must be positive")
	}
	ok, err := s.c.SetNX(ctx, s.prefix+"once:"+key, 1, max(ttl, time.Millisecond)).Result()
	if err != nil {
		return false, unavailable(op, err)
	}
	return ok, nil
}

// AcquireLease takes or renews the named lease for holder for ttl, with a
// compare-and-renew script. It returns true if holder holds the lease after
// the call. name and holder must be non-empty and ttl positive. Expiry uses
// the Redis server's clock, so instances' clocks need not agree.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	const op = "acquire lease"
	switch {
	case name == "":
		return false, invalid(op, "empty lease name")
	case holder == "":
		return false, invalid(op, "empty holder")
	case ttl <= 0:
		return false, invalid(op, "ttl must be positive")
	}
	ms := max(ttl.Milliseconds(), 1)
	n, err := leaseScript.Run(ctx, s.c, []string{s.prefix + "lease:" + name}, holder, ms).Int64()
	if err != nil {
		return false, unavailable(op, err)
	}
	return n == 1, nil
}

// decode unmarshals a stored JSON value; a failure is a data error, not an
// outage.
func decode(op, key, v string, dst any) error {
	if err := json.Unmarshal([]byte(v), dst); err != nil {
		return fmt.Errorf("redis store: %s: decode %q: %w", op, key, err)
	}
	return nil
}
