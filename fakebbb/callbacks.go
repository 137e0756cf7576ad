package fakebbb

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Callback delivery policy. Webhook deliveries and meeting-ended callbacks
// are tried up to three times (retries after these delays); the
// recording-ready and analytics callbacks are tried once, as BBB's
// post-publish and post-events scripts do.
var callbackRetries = []time.Duration{250 * time.Millisecond, time.Second}

// callbackTimeout bounds one callback attempt.
const callbackTimeout = 10 * time.Second

var defaultCallbackClient = &http.Client{Timeout: callbackTimeout}

// shardCount is the number of background workers. Work with the same key
// (one webhook, one URL) always runs on the same worker, in order.
const shardCount = 4

// job is a unit of background work.
type job struct {
	at      time.Time
	seq     uint64
	attempt int
	retries []time.Duration
	run     func(ctx context.Context, attempt int) error
}

type jobHeap []*job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x any)   { *h = append(*h, x.(*job)) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return j
}

type shard struct {
	jobs jobHeap
	wake chan struct{}
}

// scheduler runs delayed and retried work on a fixed set of goroutines.
// Its zero value is ready; goroutines start with the first job.
type scheduler struct {
	mu      sync.Mutex
	started bool
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	stopped chan struct{} // closed by close
	shards  []*shard
	wg      sync.WaitGroup
	pending int
	idle    chan struct{} // closed when pending drops to 0
	seq     uint64
}

// done returns a channel closed when the scheduler is closed.
func (sc *scheduler) done() <-chan struct{} {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.stopped == nil {
		sc.stopped = make(chan struct{})
	}
	return sc.stopped
}

// schedule runs fn after delay on the worker for key. If fn fails it is
// run again after each of retries in turn. After close it does nothing.
func (sc *scheduler) schedule(key string, delay time.Duration, retries []time.Duration, fn func(ctx context.Context, attempt int) error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return
	}
	if !sc.started {
		sc.started = true
		sc.ctx, sc.cancel = context.WithCancel(context.Background())
		sc.shards = make([]*shard, shardCount)
		for i := range sc.shards {
			sh := &shard{wake: make(chan struct{}, 1)}
			sc.shards[i] = sh
			sc.wg.Add(1)
			go sc.loop(sh)
		}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	sh := sc.shards[h.Sum32()%shardCount]
	sc.seq++
	heap.Push(&sh.jobs, &job{at: time.Now().Add(delay), seq: sc.seq, retries: retries, run: fn})
	sc.pending++
	if sc.pending == 1 {
		sc.idle = make(chan struct{})
	}
	select {
	case sh.wake <- struct{}{}:
	default:
	}
}

func (sc *scheduler) loop(sh *shard) {
	defer sc.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		sc.mu.Lock()
		var next *job
		wait := time.Duration(-1)
		if len(sh.jobs) > 0 {
			if d := time.Until(sh.jobs[0].at); d <= 0 {
				next = heap.Pop(&sh.jobs).(*job)
			} else {
				wait = d
			}
		}
		ctx := sc.ctx
		sc.mu.Unlock()
		if next != nil {
			sc.run(ctx, sh, next)
			continue
		}
		if wait < 0 {
			wait = time.Hour
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-sh.wake:
		case <-timer.C:
		}
	}
}

func (sc *scheduler) run(ctx context.Context, sh *shard, j *job) {
	err := j.run(ctx, j.attempt)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if err != nil && ctx.Err() == nil && j.attempt < len(j.retries) {
		j.at = time.Now().Add(j.retries[j.attempt])
		j.attempt++
		sc.seq++
		j.seq = sc.seq
		heap.Push(&sh.jobs, j)
		return
	}
	sc.finishLocked(1)
}

func (sc *scheduler) finishLocked(n int) {
	sc.pending -= n
	if sc.pending <= 0 {
		sc.pending = 0
		if sc.idle != nil {
			close(sc.idle)
			sc.idle = nil
		}
	}
}

// waitIdle blocks until no job is pending or ctx ends.
func (sc *scheduler) waitIdle(ctx context.Context) error {
	sc.mu.Lock()
	idle := sc.idle
	sc.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for background work: %w", ctx.Err())
	}
}

// close cancels running jobs, drops pending ones and waits for the
// workers to return.
func (sc *scheduler) close() {
	sc.mu.Lock()
	if sc.closed {
		sc.mu.Unlock()
		return
	}
	sc.closed = true
	if sc.stopped == nil {
		sc.stopped = make(chan struct{})
	}
	close(sc.stopped)
	if sc.cancel != nil {
		sc.cancel()
	}
	sc.mu.Unlock()
	sc.wg.Wait()
	sc.mu.Lock()
	for _, sh := range sc.shards {
		sh.jobs = nil
	}
	sc.finishLocked(sc.pending)
	sc.mu.Unlock()
}

func (s *Server) httpClient() *http.Client {
	if s.HTTPClient != nil {
		return s.HTTPClient
	}
	return defaultCallbackClient
}

// send makes one callback request and returns the response status. The
// body of the response is read and discarded. Errors never carry the
// target's query (which may hold a checksum).
func (s *Server) send(ctx context.Context, method, target, contentType string, body []byte, header http.Header) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, callbackTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, fmt.Errorf("callback request to %s: invalid URL", redactURL(target))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return 0, fmt.Errorf("callback %s %s: %w", method, redactURL(target), ue.Err)
		}
		return 0, fmt.Errorf("callback %s %s: %w", method, redactURL(target), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// redactURL returns target without query and fragment, for logs.
func redactURL(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// addQuery appends the encoded pairs q to target's query, keeping its
// existing query and fragment, as Apache URIBuilder.addParameter does.
func addQuery(target, q string) string {
	frag := ""
	if i := strings.IndexByte(target, '#'); i >= 0 {
		target, frag = target[:i], target[i:]
	}
	switch {
	case !strings.Contains(target, "?"):
		target += "?" + q
	case strings.HasSuffix(target, "?"), strings.HasSuffix(target, "&"):
		target += q
	default:
		target += "&" + q
	}
	return target + frag
}

// getCallback schedules a GET to target with the retry policy.
func (s *Server) getCallback(kind, target string) {
	s.sched.schedule("url:"+target, 0, callbackRetries, func(ctx context.Context, attempt int) error {
		status, err := s.send(ctx, http.MethodGet, target, "", nil, nil)
		if err == nil && status/100 != 2 {
			err = fmt.Errorf("status %d", status)
		}
		if err != nil {
			s.logger().Warn("fakebbb callback failed", "kind", kind, "url", redactURL(target), "attempt", attempt+1, "err", err)
		}
		return err
	})
}

// endCallbacksLocked schedules the meeting-ended callbacks: GET
// meta_endCallbackUrl with recordingmarks and meetingID added, and GET
// meetingEndedURL as given. Call with s.mu held.
func (s *Server) endCallbacksLocked(m *meeting) {
	if u, ok := m.meta.get("endcallbackurl"); ok && u != "" {
		s.getCallback("end", addQuery(u, "recordingmarks="+strconv.FormatBool(m.record)+"&meetingID="+formEncode(m.id, "-_.*")))
	}
	if m.endedURL != "" {
		s.getCallback("meetingEnded", m.endedURL)
	}
}

// recordingReady POSTs signed_parameters=<HS256 JWT {meeting_id,
// record_id}> to target, once, like BBB's post_publish script.
func (s *Server) recordingReady(ctx context.Context, target, meetingID, recordID string) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"meeting_id": meetingID,
		"record_id":  recordID,
	}).SignedString([]byte(s.Secret))
	if err != nil {
		s.logger().Warn("fakebbb recording-ready callback not signed", "err", err)
		return
	}
	body := []byte("signed_parameters=" + url.QueryEscape(tok))
	status, err := s.send(ctx, http.MethodPost, target, "application/x-www-form-urlencoded", body, nil)
	if err == nil && status/100 != 2 {
		err = fmt.Errorf("status %d", status)
	}
	if err != nil {
		s.logger().Warn("fakebbb recording-ready callback failed", "url", redactURL(target), "err", err)
	}
}

type analyticsPayload struct {
	Version           string        `json:"version"`
	MeetingID         string        `json:"meeting_id"`
	InternalMeetingID string        `json:"internal_meeting_id"`
	Data              analyticsData `json:"data"`
}

type analyticsData struct {
	Metadata  map[string]string   `json:"metadata"`
	Duration  int64               `json:"duration"`
	Start     string              `json:"start"`
	Finish    string              `json:"finish"`
	Attendees []analyticsAttendee `json:"attendees"`
	Files     []string            `json:"files"`
	Polls     []string            `json:"polls"`
}

type analyticsAttendee struct {
	ExtUserID string `json:"ext_user_id"`
	Name      string `json:"name"`
	Moderator bool   `json:"moderator"`
}

// analyticsLocked schedules the analytics callback of an ending meeting
// after RecordingDelay: POST JSON with "Authorization: Bearer <HS512 JWT
// with exp = now+24h>", once. Call with s.mu held, before m's users are
// cleared.
func (s *Server) analyticsLocked(m *meeting, target string) {
	md := m.meta.toMap()
	if md == nil {
		md = map[string]string{}
	}
	p := analyticsPayload{
		Version:           "1.0",
		MeetingID:         m.id,
		InternalMeetingID: m.internalID,
		Data: analyticsData{
			Metadata:  md,
			Duration:  (m.endTime - m.startTime) / 1000,
			Start:     time.UnixMilli(m.startTime).UTC().Format(time.RFC3339),
			Finish:    time.UnixMilli(m.endTime).UTC().Format(time.RFC3339),
			Attendees: []analyticsAttendee{},
			Files:     []string{},
			Polls:     []string{},
		},
	}
	for _, u := range m.users {
		p.Data.Attendees = append(p.Data.Attendees, analyticsAttendee{u.userID, u.fullName, u.role == "MODERATOR"})
	}
	body := marshalJSON(p)
	s.sched.schedule("url:"+target, s.RecordingDelay, nil, func(ctx context.Context, _ int) error {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{
			"exp": time.Now().Add(24 * time.Hour).Unix(),
		}).SignedString([]byte(s.Secret))
		if err != nil {
			s.logger().Warn("fakebbb analytics callback not signed", "err", err)
			return nil
		}
		h := http.Header{}
		h.Set("Authorization", "Bearer "+tok)
		h.Set("User-Agent", "BigBlueButton Analytics Callback")
		status, err := s.send(ctx, http.MethodPost, target, "application/json", body, h)
		if err == nil && status/100 != 2 {
			err = fmt.Errorf("status %d", status)
		}
		if err != nil {
			s.logger().Warn("fakebbb analytics callback failed", "url", redactURL(target), "err", err)
		}
		return nil
	})
}
