package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	bbolt "go.etcd.io/bbolt"

	"github.com/tinyscale/tinyscale"
)

// The meeting cache.
//
// Every join and every call for a meeting looks the meeting up, and
// decoding the stored JSON was most of a join's cost. The file lock makes
// this process the only writer of the database, so a cache in front of the
// meetings bucket stays exact: every write of a meeting drops its entry
// once the write is committed (meetingCache.dropOnCommit, from the
// transaction's commit handler), and a lookup that read the database
// stores what it decoded only if no meeting was written meanwhile (the
// generation check in meetingCache.fill). A lookup therefore never
// returns a value older than the last committed write, and returns
// exactly what decoding the stored value returns.
//
// The whole-map reads (Meetings, MeetingsSince) read in one transaction
// and take a cached meeting only if it was decoded from the very bytes
// the transaction sees, so they return exactly what they did without the
// cache, but decode only meetings written since they were last read.
//
// Every code path that writes the meetings bucket must call
// s.cache.dropOnCommit in its transaction.

// maxCachedMeetings bounds the cache: when a lookup finds it full it is
// emptied, which costs one decode per meeting looked up afterwards; the
// whole-map reads only add to it while there is room. A variable for
// tests.
var maxCachedMeetings = 1 << 15

// cachedMeeting is a decoded meeting and the stored value it was decoded
// from, so that reads inside a transaction use it only if the
// transaction sees that same value.
type cachedMeeting struct {
	m   tinyscale.Meeting
	raw []byte
}

// keyedMeeting is a cache entry to add, under its key.
type keyedMeeting struct {
	key string
	cachedMeeting
}

// meetingCache holds decoded meetings by key (meeting ID). The zero value
// is ready.
type meetingCache struct {
	mu     sync.RWMutex
	m      map[string]cachedMeeting
	gen    uint64 // incremented by every drop
	closed bool
}

// get returns the cached meeting with id.
func (c *meetingCache) get(id string) (cachedMeeting, bool) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	return e, ok
}

// generation returns the generation to pass to fill after reading the
// database.
func (c *meetingCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// fill stores es, read from the database after generation returned gen,
// unless a meeting was written since. With evict, a full cache is
// emptied first; without, entries are added only while there is room.
func (c *meetingCache) fill(es []keyedMeeting, gen uint64, evict bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.gen != gen {
		return
	}
	if c.m == nil || evict && len(c.m)+len(es) > maxCachedMeetings {
		c.m = make(map[string]cachedMeeting)
	}
	for _, e := range es {
		if len(c.m) >= maxCachedMeetings {
			return
		}
		c.m[e.key] = e.cachedMeeting
	}
}

// drop forgets the meeting with id and fails the fills in progress.
func (c *meetingCache) drop(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.gen++
	c.mu.Unlock()
}

// dropOnCommit drops id once tx has been committed. Readers until then see
// the old value, which is still the committed one.
func (c *meetingCache) dropOnCommit(tx *bbolt.Tx, id string) {
	tx.OnCommit(func() { c.drop(id) })
}

// close empties the cache for good.
func (c *meetingCache) close() {
	c.mu.Lock()
	c.m, c.closed = nil, true
	c.gen++
	c.mu.Unlock()
}

// cachedMeeting returns the meeting with id from the cache, or reads it
// (and caches it) as getMeeting does. Errors are those of view.
func (s *Store) cachedMeeting(ctx context.Context, op, id string) (tinyscale.Meeting, error) {
	if ctx.Err() == nil {
		if e, ok := s.cache.get(id); ok {
			return e.m, nil
		}
	}
	gen := s.cache.generation()
	var fills []keyedMeeting
	var m tinyscale.Meeting
	err := s.view(ctx, op, func(tx *bbolt.Tx) error {
		if id == "" {
			return tinyscale.ErrNotFound
		}
		v := tx.Bucket(bucketMeetings).Get([]byte(id))
		if v == nil {
			return tinyscale.ErrNotFound
		}
		var err error
		m, err = s.decodeMeeting([]byte(id), v, &fills)
		return err
	})
	if err != nil {
		return tinyscale.Meeting{}, err
	}
	s.cache.fill(fills, gen, true)
	return m, nil
}

// decodeMeeting decodes the stored value v of the meeting with key k, or
// takes it from the cache if it was decoded from the same bytes. A
// decoded meeting is added to *fills, for the caller to pass to
// cache.fill once its transaction has ended.
func (s *Store) decodeMeeting(k, v []byte, fills *[]keyedMeeting) (tinyscale.Meeting, error) {
	if e, ok := s.cache.get(string(k)); ok && bytes.Equal(e.raw, v) {
		return e.m, nil
	}
	var m tinyscale.Meeting
	if err := decode(k, v, &m); err != nil {
		return m, err
	}
	*fills = append(*fills, keyedMeeting{string(k), cachedMeeting{m, bytes.Clone(v)}})
	return m, nil
}

// claimBatch is how many meetings one ClaimMeetings transaction writes at
// most, so that other writers never wait long for the write lock.
const claimBatch = 1024

// ClaimMeetings claims many meetings at once, as ClaimMeeting(ctx, m, "")
// for each of ms in order, but with one committed (fsync'ed) transaction
// per claimBatch meetings rather than one each. It returns, for each
// meeting, the one stored afterwards and whether this call stored it. On
// an error the results are nil; the transactions committed before it
// stay. An empty ID is rejected before anything is written.
//
// It is meant for learning many meetings found on the servers, such as
// all those of a server put behind tinyscale.
func (s *Store) ClaimMeetings(ctx context.Context, ms []tinyscale.Meeting) ([]tinyscale.Meeting, []bool, error) {
	const op = "claim meetings"
	for _, m := range ms {
		if m.ID == "" {
			return nil, nil, wrap(op, invalid("empty meeting ID"))
		}
	}
	got := make([]tinyscale.Meeting, len(ms))
	stored := make([]bool, len(ms))
	// The fast path of ClaimMeeting: meetings already stored need no write.
	var todo []int
	for i, m := range ms {
		cur, err := s.cachedMeeting(ctx, op, m.ID)
		switch {
		case err == nil:
			got[i] = cur
		case errors.Is(err, tinyscale.ErrNotFound):
			todo = append(todo, i)
		default:
			return nil, nil, err
		}
	}
	for len(todo) > 0 {
		batch := todo[:min(len(todo), claimBatch)]
		todo = todo[len(batch):]
		err := s.update(ctx, op, func(tx *bbolt.Tx) error {
			for _, i := range batch {
				stored[i] = false
				old, err := getMeeting(tx, ms[i].ID)
				switch {
				case err == nil:
					got[i] = old
					continue
				case !errors.Is(err, tinyscale.ErrNotFound):
					return err
				}
				if err := putMeeting(tx, ms[i]); err != nil {
					return fmt.Errorf("meeting %q: %w", ms[i].ID, err)
				}
				s.cache.dropOnCommit(tx, ms[i].ID)
				got[i], stored[i] = ms[i], true
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return got, stored, nil
}
