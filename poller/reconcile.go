package poller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tinyscale/tinyscale"
)

// reconcile brings the meeting map in line with the servers that answered
// this round. It reads the store once and groups in one pass, so its cost
// is linear in the number of stored and listed meetings.
//
//   - A listed meeting the store does not know is learned with ClaimMeeting
//     (never PutMeeting: a create placing the same ID elsewhere at the same
//     moment must win, not be overwritten).
//   - A listed meeting the store maps to another server is left alone
//     (logged at debug): failover or a duplicate ID; the store is right.
//   - A stored meeting of an answering server that the server did not list
//     and that is at least Grace old is deleted with DeleteMeeting(id,
//     server), which does nothing if the meeting has meanwhile moved.
//
// Servers whose poll failed are skipped entirely.
func (p *Poller) reconcile(ctx context.Context, s settings, results []result, now time.Time) error {
	// listed[serverID] = set of meeting IDs the server reported.
	listed := make(map[string]map[string]struct{})
	for _, r := range results {
		if r.err != nil {
			continue
		}
		ids := make(map[string]struct{}, len(r.meetings))
		for _, m := range r.meetings {
			ids[m.id] = struct{}{}
		}
		listed[r.b.ID] = ids
	}
	if len(listed) == 0 {
		return nil
	}
	stored, err := s.store.Meetings(ctx)
	if err != nil {
		s.metrics.StoreError("meetings")
		return fmt.Errorf("reconcile: read meetings: %w", err)
	}

	owner := make(map[string]string, len(stored)) // meeting ID → server ID
	var stale []tinyscale.Meeting
	for _, m := range stored {
		owner[m.ID] = m.ServerID
		ids, ok := listed[m.ServerID]
		if !ok {
			continue // server not polled OK this round
		}
		if _, ok := ids[m.ID]; ok {
			continue
		}
		if now.Sub(m.CreatedAt) < s.grace {
			continue // young: the server may not report it yet
		}
		stale = append(stale, m)
	}

	var errs []error
	var learned, removed int
	for _, r := range results {
		if r.err != nil {
			continue
		}
		for _, l := range r.meetings {
			if l.id == "" {
				continue
			}
			if sid, ok := owner[l.id]; ok {
				if sid != r.b.ID {
					s.log.Debug("meeting listed by a server other than its mapped one; left alone",
						"meeting", l.id, "listedBy", r.b.ID, "mappedTo", sid)
				}
				continue
			}
			m := tinyscale.Meeting{
				ID:         l.id,
				ServerID:   r.b.ID,
				InternalID: l.internalID,
				CreatedAt:  learnedAt(l.createTime, now),
			}
			got, ok, err := s.store.ClaimMeeting(ctx, m, "")
			if err != nil {
				s.metrics.StoreError("claim_meeting")
				errs = append(errs, fmt.Errorf("reconcile: learn meeting on %s: %w", r.b.ID, err))
				if ctx.Err() != nil {
					return errors.Join(errs...)
				}
				continue
			}
			owner[l.id] = got.ServerID
			if !ok {
				s.log.Debug("meeting claimed elsewhere while learning; left alone",
					"meeting", l.id, "listedBy", r.b.ID, "mappedTo", got.ServerID)
				continue
			}
			learned++
		}
	}

	for _, m := range stale {
		err := s.store.DeleteMeeting(ctx, m.ID, m.ServerID)
		switch {
		case err == nil:
			removed++
		case errors.Is(err, tinyscale.ErrNotFound):
			// Deleted or moved since the read: nothing to do.
		default:
			s.metrics.StoreError("delete_meeting")
			errs = append(errs, fmt.Errorf("reconcile: remove ended meeting on %s: %w", m.ServerID, err))
			if ctx.Err() != nil {
				return errors.Join(errs...)
			}
		}
	}
	if learned > 0 || removed > 0 {
		s.log.Info("meeting map reconciled", "learned", learned, "removed", removed)
	}
	return errors.Join(errs...)
}

// learnedAt is the CreatedAt recorded for a meeting learned from a poll:
// the server's createTime (Unix ms) when it is known and not in the
// future, else now. Using the server's time rather than now keeps learned
// meetings (found at start-up or created directly on a server) out of the
// young-meeting count that charges placements; they are not placements,
// and their load is already in the polled counts.
func learnedAt(createTimeMS int64, now time.Time) time.Time {
	if createTimeMS <= 0 {
		return now
	}
	t := time.UnixMilli(createTimeMS)
	if t.After(now) {
		return now
	}
	return t
}
