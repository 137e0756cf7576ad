// Package bolt implements tinyscale.Store on an embedded bbolt database
// file. It is tinyscale's default store ("./tinyscale.db").
//
// Durability: every acknowledged write is committed with fsync before the
// method returns, so killing the process at any moment (even with SIGKILL)
// loses nothing that a caller was told had been stored.
//
// One process at a time: Open takes an exclusive lock on the file and fails
// with an error wrapping ErrLocked if another process holds it beyond the
// lock timeout. Several tinyscale instances that share state must use the
// Redis store instead. Being the only writer also keeps exact the
// in-memory cache of decoded meetings that lookups are served from
// (cache.go).
//
// Layout: one bucket per record kind, values JSON-encoded:
//
//	servers           server ID → Server
//	meetings          external meeting ID → Meeting
//	meetings_created  created-at key (12 bytes) + meeting ID → empty, the index behind MeetingsSince
//	health            server ID → Health
//	hooks             hook ID → Hook
//	hook_seq          bucket sequence only: the last NextHookID
//	recordings        record ID → server ID (raw bytes)
//	once              key → expiry (8 bytes, Unix nanoseconds)
//	once_expiry       expiry (8 bytes) + key → empty, to sweep expired keys
//	leases            name → lease (JSON holder and expiry)
//
// Expired once keys and leases are removed lazily: on access, and a bounded
// number of expired once keys on every Once call.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/tinyscale/tinyscale"
)

// DefaultPath is the database file used when none is configured.
const DefaultPath = "tinyscale.db"

// DefaultLockTimeout is how long Open waits for another process to release
// the file lock before failing.
const DefaultLockTimeout = 2 * time.Second

// ErrLocked is wrapped by the error Open returns when another process holds
// the database file's lock for longer than the lock timeout.
var ErrLocked = errors.New("database file is locked by another process")

// sweepBatch bounds how many expired once keys one Once call removes.
const sweepBatch = 64

var (
	bucketServers    = []byte("servers")
	bucketMeetings   = []byte("meetings")
	bucketCreated    = []byte("meetings_created")
	bucketHealth     = []byte("health")
	bucketHooks      = []byte("hooks")
	bucketHookSeq    = []byte("hook_seq")
	bucketRecordings = []byte("recordings")
	bucketOnce       = []byte("once")
	bucketOnceExpiry = []byte("once_expiry")
	bucketLeases     = []byte("leases")

	allBuckets = [][]byte{
		bucketServers, bucketMeetings, bucketCreated, bucketHealth, bucketHooks,
		bucketHookSeq, bucketRecordings, bucketOnce, bucketOnceExpiry, bucketLeases,
	}
)

// Option configures Open.
type Option func(*options)

type options struct {
	lockTimeout time.Duration
	now         func() time.Time
}

// WithLockTimeout sets how long Open waits for the file lock; default
// DefaultLockTimeout. A value <= 0 means the default.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.lockTimeout = d
		}
	}
}

// Store is a tinyscale.Store on a bbolt file. It is safe for concurrent use.
type Store struct {
	db   *bbolt.DB
	path string
	now  func() time.Time

	closeOnce sync.Once
	closeErr  error

	cache meetingCache // decoded meetings (cache.go)
}

var _ tinyscale.Store = (*Store)(nil)

// Open opens or creates the database file at path (mode 0600: it holds
// server secrets), creating its parent directory if needed, and creates
// missing buckets. It fails with an error wrapping ErrLocked if another
// process holds the file.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{lockTimeout: DefaultLockTimeout, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" {
		path = DefaultPath
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open bolt store %q: %w", path, err)
		}
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: o.lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open bolt store %q: %w (waited %v; is another tinyscale running?)", path, ErrLocked, o.lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open bolt store %q: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open bolt store %q: %w", path, err)
	}
	return &Store{db: db, path: path, now: o.now}, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database file and releases its lock. It is safe to call
// more than once; later calls return the first call's result. After Close,
// every method fails with an error wrapping tinyscale.ErrStoreUnavailable.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cache.close()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close bolt store: %w", err)
		}
	})
	return s.closeErr
}

// Ping reports an error wrapping tinyscale.ErrStoreUnavailable if the
// database is closed.
func (s *Store) Ping(ctx context.Context) error {
	return s.view(ctx, "ping", func(*bbolt.Tx) error { return nil })
}

// errInvalid marks argument errors, which are not outages.
var errInvalid = errors.New("invalid argument")

// view runs fn in a read-only transaction, mapping failures.
func (s *Store) view(ctx context.Context, op string, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt store: %s: %w", op, err)
	}
	return wrap(op, s.db.View(fn))
}

// update runs fn in a read-write transaction, committed with fsync.
func (s *Store) update(ctx context.Context, op string, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt store: %s: %w", op, err)
	}
	return wrap(op, s.db.Update(fn))
}

// wrap adds the op prefix and marks database failures as unavailability.
// ErrNotFound, argument and decoding errors from fn pass through unmarked.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tinyscale.ErrNotFound), errors.Is(err, errInvalid), isDecodeError(err):
		return fmt.Errorf("bolt store: %s: %w", op, err)
	default:
		return fmt.Errorf("bolt store: %s: %w: %w", op, tinyscale.ErrStoreUnavailable, err)
	}
}

// decodeError is a stored value that does not decode.
type decodeError struct {
	key []byte
	err error
}

func (e *decodeError) Error() string { return fmt.Sprintf("decode %q: %v", e.key, e.err) }
func (e *decodeError) Unwrap() error { return e.err }

func isDecodeError(err error) bool {
	var d *decodeError
	return errors.As(err, &d)
}

func decode(key, val []byte, v any) error {
	if err := json.Unmarshal(val, v); err != nil {
		return &decodeError{key: slices.Clone(key), err: err}
	}
	return nil
}

func invalid(what string) error { return fmt.Errorf("%w: %s", errInvalid, what) }

// list decodes every value of bucket, in key order.
func list[T any](ctx context.Context, s *Store, op string, bucket []byte) ([]T, error) {
	var out []T
	err := s.view(ctx, op, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var x T
			if err := decode(k, v, &x); err != nil {
				return err
			}
			out = append(out, x)
			return nil
		})
	})
	return out, err
}

// Servers returns all servers ordered by ID.
func (s *Store) Servers(ctx context.Context) ([]tinyscale.Server, error) {
	return list[tinyscale.Server](ctx, s, "servers", bucketServers) // bbolt keys are byte-ordered, which is ID order
}

// PutServer creates or replaces the server with srv.ID. An empty ID is
// rejected.
func (s *Store) PutServer(ctx context.Context, srv tinyscale.Server) error {
	if srv.ID == "" {
		return wrap("put server", invalid("empty server ID"))
	}
	v, err := json.Marshal(srv)
	if err != nil {
		return fmt.Errorf("bolt store: put server: %w", err)
	}
	return s.update(ctx, "put server", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketServers).Put([]byte(srv.ID), v)
	})
}

// DeleteServer removes a server; ErrNotFound if there is none.
func (s *Store) DeleteServer(ctx context.Context, id string) error {
	return s.update(ctx, "delete server", func(tx *bbolt.Tx) error {
		return deleteKey(tx.Bucket(bucketServers), id)
	})
}

// deleteKey deletes key from b, or returns ErrNotFound.
func deleteKey(b *bbolt.Bucket, key string) error {
	if key == "" || b.Get([]byte(key)) == nil {
		return tinyscale.ErrNotFound
	}
	return b.Delete([]byte(key))
}

// Meeting returns the meeting with the external id; ErrNotFound if unknown.
func (s *Store) Meeting(ctx context.Context, id string) (tinyscale.Meeting, error) {
	return s.cachedMeeting(ctx, "get meeting", id)
}

// getMeeting reads one meeting; ErrNotFound if absent.
func getMeeting(tx *bbolt.Tx, id string) (tinyscale.Meeting, error) {
	var m tinyscale.Meeting
	if id == "" {
		return m, tinyscale.ErrNotFound
	}
	v := tx.Bucket(bucketMeetings).Get([]byte(id))
	if v == nil {
		return m, tinyscale.ErrNotFound
	}
	err := decode([]byte(id), v, &m)
	return m, err
}

// putMeeting stores m and moves its created-at index entry.
func putMeeting(tx *bbolt.Tx, m tinyscale.Meeting) error {
	v, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode meeting: %w", err)
	}
	meetings, created := tx.Bucket(bucketMeetings), tx.Bucket(bucketCreated)
	if err := unindex(tx, m.ID); err != nil {
		return err
	}
	if err := meetings.Put([]byte(m.ID), v); err != nil {
		return err
	}
	return created.Put(createdKey(m.CreatedAt, m.ID), nil)
}

// unindex removes the index entry of the stored meeting id, if any. A stored
// value that no longer decodes has its index entry found by a scan, so a
// corrupt record never leaves a stale index entry behind.
func unindex(tx *bbolt.Tx, id string) error {
	v := tx.Bucket(bucketMeetings).Get([]byte(id))
	if v == nil {
		return nil
	}
	created := tx.Bucket(bucketCreated)
	var old tinyscale.Meeting
	if json.Unmarshal(v, &old) == nil {
		return created.Delete(createdKey(old.CreatedAt, id))
	}
	c := created.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if _, kid, ok := parseCreatedKey(k); ok && kid == id {
			return c.Delete()
		}
	}
	return nil
}

// ClaimMeeting atomically stores m unless a meeting with m.ID is stored on
// a server other than a non-empty replaceServerID. The check and the write
// happen in one read-write transaction; bbolt serialises those, so exactly
// one of any number of concurrent claims wins.
func (s *Store) ClaimMeeting(ctx context.Context, m tinyscale.Meeting, replaceServerID string) (tinyscale.Meeting, bool, error) {
	const op = "claim meeting"
	if m.ID == "" {
		return tinyscale.Meeting{}, false, wrap(op, invalid("empty meeting ID"))
	}
	// Fast path without the write lock and fsync: the meeting is taken.
	cur, err := s.cachedMeeting(ctx, op, m.ID)
	found := err == nil
	if err != nil && !errors.Is(err, tinyscale.ErrNotFound) {
		return tinyscale.Meeting{}, false, err
	}
	if found && (replaceServerID == "" || cur.ServerID != replaceServerID) {
		return cur, false, nil
	}

	var stored bool
	err = s.update(ctx, op, func(tx *bbolt.Tx) error {
		cur, stored = tinyscale.Meeting{}, false
		old, err := getMeeting(tx, m.ID)
		switch {
		case errors.Is(err, tinyscale.ErrNotFound):
		case err != nil:
			return err
		case replaceServerID == "" || old.ServerID != replaceServerID:
			cur = old
			return nil
		}
		if err := putMeeting(tx, m); err != nil {
			return err
		}
		s.cache.dropOnCommit(tx, m.ID)
		cur, stored = m, true
		return nil
	})
	if err != nil {
		return tinyscale.Meeting{}, false, err
	}
	return cur, stored, nil
}

// PutMeeting stores m unconditionally. An empty ID is rejected.
func (s *Store) PutMeeting(ctx context.Context, m tinyscale.Meeting) error {
	if m.ID == "" {
		return wrap("put meeting", invalid("empty meeting ID"))
	}
	return s.update(ctx, "put meeting", func(tx *bbolt.Tx) error {
		s.cache.dropOnCommit(tx, m.ID)
		return putMeeting(tx, m)
	})
}

// DeleteMeeting removes the meeting id if it is stored on serverID (on any
// server when serverID is empty); ErrNotFound otherwise.
func (s *Store) DeleteMeeting(ctx context.Context, id, serverID string) error {
	return s.update(ctx, "delete meeting", func(tx *bbolt.Tx) error {
		m, err := getMeeting(tx, id)
		if err != nil && !(isDecodeError(err) && serverID == "") {
			return err
		}
		if serverID != "" && m.ServerID != serverID {
			return tinyscale.ErrNotFound
		}
		if err := unindex(tx, id); err != nil {
			return err
		}
		s.cache.dropOnCommit(tx, id)
		return tx.Bucket(bucketMeetings).Delete([]byte(id))
	})
}

// Meetings returns all stored meetings, in ID order.
func (s *Store) Meetings(ctx context.Context) ([]tinyscale.Meeting, error) {
	var out []tinyscale.Meeting
	var fills []keyedMeeting
	gen := s.cache.generation()
	err := s.view(ctx, "list meetings", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeetings).ForEach(func(k, v []byte) error {
			m, err := s.decodeMeeting(k, v, &fills)
			if err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	if err == nil {
		s.cache.fill(fills, gen, false)
	}
	return out, err
}

// MeetingsSince returns the meetings with CreatedAt at or after t, oldest
// first. It reads only the index range from t on.
func (s *Store) MeetingsSince(ctx context.Context, t time.Time) ([]tinyscale.Meeting, error) {
	var out []tinyscale.Meeting
	var fills []keyedMeeting
	gen := s.cache.generation()
	err := s.view(ctx, "list meetings since", func(tx *bbolt.Tx) error {
		meetings := tx.Bucket(bucketMeetings)
		c := tx.Bucket(bucketCreated).Cursor()
		for k, _ := c.Seek(createdPrefix(t)); k != nil; k, _ = c.Next() {
			_, id, ok := parseCreatedKey(k)
			if !ok {
				continue
			}
			v := meetings.Get([]byte(id))
			if v == nil {
				continue
			}
			m, err := s.decodeMeeting([]byte(id), v, &fills)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err == nil {
		s.cache.fill(fills, gen, false)
	}
	return out, err
}

// PutHealth stores health records, replacing those with the same ServerID,
// in one transaction. An empty ServerID is rejected.
func (s *Store) PutHealth(ctx context.Context, hs ...tinyscale.Health) error {
	if len(hs) == 0 {
		return nil
	}
	vals := make([][]byte, len(hs))
	for i, h := range hs {
		if h.ServerID == "" {
			return wrap("put health", invalid("empty server ID"))
		}
		v, err := json.Marshal(h)
		if err != nil {
			return fmt.Errorf("bolt store: put health: %w", err)
		}
		vals[i] = v
	}
	return s.update(ctx, "put health", func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketHealth)
		for i, h := range hs {
			if err := b.Put([]byte(h.ServerID), vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Health returns all stored health records, ordered by ServerID.
func (s *Store) Health(ctx context.Context) ([]tinyscale.Health, error) {
	return list[tinyscale.Health](ctx, s, "list health", bucketHealth)
}

// PutHook creates or replaces a hook. An empty ID is rejected.
func (s *Store) PutHook(ctx context.Context, h tinyscale.Hook) error {
	if h.ID == "" {
		return wrap("put hook", invalid("empty hook ID"))
	}
	v, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("bolt store: put hook: %w", err)
	}
	return s.update(ctx, "put hook", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketHooks).Put([]byte(h.ID), v)
	})
}

// Hook returns a hook by ID; ErrNotFound if unknown.
func (s *Store) Hook(ctx context.Context, id string) (tinyscale.Hook, error) {
	var h tinyscale.Hook
	err := s.view(ctx, "get hook", func(tx *bbolt.Tx) error {
		if id == "" {
			return tinyscale.ErrNotFound
		}
		v := tx.Bucket(bucketHooks).Get([]byte(id))
		if v == nil {
			return tinyscale.ErrNotFound
		}
		return decode([]byte(id), v, &h)
	})
	return h, err
}

// Hooks returns all hooks ordered by ID (byte order).
func (s *Store) Hooks(ctx context.Context) ([]tinyscale.Hook, error) {
	return list[tinyscale.Hook](ctx, s, "list hooks", bucketHooks)
}

// DeleteHook removes a hook; ErrNotFound if unknown.
func (s *Store) DeleteHook(ctx context.Context, id string) error {
	return s.update(ctx, "delete hook", func(tx *bbolt.Tx) error {
		return deleteKey(tx.Bucket(bucketHooks), id)
	})
}

// NextHookID returns the next number of a durable sequence starting at 1.
// Numbers are never reused, also across restarts.
func (s *Store) NextHookID(ctx context.Context) (int64, error) {
	var n uint64
	err := s.update(ctx, "next hook ID", func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.Bucket(bucketHookSeq).NextSequence()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int64(n), nil
}

// PutRecordings remembers which server holds each recordID, in one
// transaction. An empty recordID is rejected.
func (s *Store) PutRecordings(ctx context.Context, recs map[string]string) error {
	if len(recs) == 0 {
		return nil
	}
	for rec := range recs {
		if rec == "" {
			return wrap("put recordings", invalid("empty record ID"))
		}
	}
	return s.update(ctx, "put recordings", func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRecordings)
		for rec, srv := range recs {
			if err := b.Put([]byte(rec), []byte(srv)); err != nil {
				return err
			}
		}
		return nil
	})
}

// RecordingServer returns the server ID holding recordID; ErrNotFound if
// unknown.
func (s *Store) RecordingServer(ctx context.Context, recordID string) (string, error) {
	var srv string
	err := s.view(ctx, "get recording", func(tx *bbolt.Tx) error {
		if recordID == "" {
			return tinyscale.ErrNotFound
		}
		v := tx.Bucket(bucketRecordings).Get([]byte(recordID))
		if v == nil {
			return tinyscale.ErrNotFound
		}
		srv = string(v)
		return nil
	})
	return srv, err
}

// Once reports true if key was not seen within its ttl, and marks it seen
// for ttl. The key must be non-empty and ttl positive. It also removes a
// bounded number of expired keys.
func (s *Store) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	const op = "once"
	if key == "" {
		return false, wrap(op, invalid("empty key"))
	}
	if ttl <= 0 {
		return false, wrap(op, invalid("ttl must be positive"))
	}
	var first bool
	err := s.update(ctx, op, func(tx *bbolt.Tx) error {
		now := s.now()
		first = false
		keys, expiry := tx.Bucket(bucketOnce), tx.Bucket(bucketOnceExpiry)
		if err := sweepOnce(keys, expiry, now, sweepBatch); err != nil {
			return err
		}
		if v := keys.Get([]byte(key)); len(v) == 8 && now.UnixNano() < int64(binary.BigEndian.Uint64(v)) {
			return nil
		} else if v != nil {
			if err := expiry.Delete(expiryKey(v, key)); err != nil {
				return err
			}
		}
		exp := binary.BigEndian.AppendUint64(nil, uint64(now.Add(ttl).UnixNano()))
		if err := keys.Put([]byte(key), exp); err != nil {
			return err
		}
		if err := expiry.Put(expiryKey(exp, key), nil); err != nil {
			return err
		}
		first = true
		return nil
	})
	return first, err
}

// sweepOnce deletes up to limit once keys that expired before now.
func sweepOnce(keys, expiry *bbolt.Bucket, now time.Time, limit int) error {
	nowNano := uint64(now.UnixNano())
	c := expiry.Cursor()
	var stale [][]byte
	for k, _ := c.First(); k != nil && len(stale) < limit; k, _ = c.Next() {
		if len(k) < 8 || binary.BigEndian.Uint64(k[:8]) > nowNano {
			break
		}
		stale = append(stale, slices.Clone(k))
	}
	for _, k := range stale {
		if err := expiry.Delete(k); err != nil {
			return err
		}
		// Delete the key only if it still carries this expiry.
		if v := keys.Get(k[8:]); bytes.Equal(v, k[:8]) {
			if err := keys.Delete(k[8:]); err != nil {
				return err
			}
		}
	}
	return nil
}

func expiryKey(exp []byte, key string) []byte {
	return append(slices.Clone(exp[:8]), key...)
}

// lease is the stored form of a lease.
type lease struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// AcquireLease takes or renews the named lease for holder for ttl. It
// returns true if holder holds the lease after the call. name and holder
// must be non-empty and ttl positive.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	const op = "acquire lease"
	switch {
	case name == "":
		return false, wrap(op, invalid("empty lease name"))
	case holder == "":
		return false, wrap(op, invalid("empty holder"))
	case ttl <= 0:
		return false, wrap(op, invalid("ttl must be positive"))
	}
	var held bool
	err := s.update(ctx, op, func(tx *bbolt.Tx) error {
		now := s.now()
		held = false
		b := tx.Bucket(bucketLeases)
		if v := b.Get([]byte(name)); v != nil {
			var cur lease
			// An undecodable lease is treated as expired and overwritten.
			if json.Unmarshal(v, &cur) == nil && cur.Holder != holder && now.Before(cur.Expires) {
				return nil
			}
		}
		v, err := json.Marshal(lease{Holder: holder, Expires: now.Add(ttl)})
		if err != nil {
			return err
		}
		if err := b.Put([]byte(name), v); err != nil {
			return err
		}
		held = true
		return nil
	})
	return held, err
}
