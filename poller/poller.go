// Package poller measures the health and load of every BBB server and
// keeps the meeting map in step with what the servers report.
//
// Each round asks every server for getMeetings in parallel, each call
// bounded by a short timeout, so a round over a large fleet with some
// servers black-holing packets still ends within the interval. From the
// answers it derives each server's meeting and participant counts and its
// health, with hysteresis: a server goes down after DownAfter failed polls
// in a row and comes back after UpAfter good ones. A failed poll keeps the
// counts of the last good one and never touches the server's meetings.
//
// For every server polled successfully, the round reconciles the meeting
// map: meetings the server lists but the store does not know (created
// directly on the server, breakout rooms) are learned; stored meetings of
// that server that it no longer lists are removed, unless they are younger
// than Grace (a create that the server has not reported yet).
//
// Several tinyscale instances may share one store; only the one holding
// the "poller" lease in the store polls, and every instance reads the
// health it writes. If the holder stops, another instance takes over
// within two intervals.
package poller

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/metrics"
)

// Errors Probe and polls wrap, so callers can tell a misconfiguration from
// an outage with errors.Is.
var (
	// ErrBadSecret means the server answered FAILED checksumError: it does
	// not share the configured secret (or rejects the algorithm).
	ErrBadSecret = errors.New("server rejected the checksum (wrong secret or algorithm)")
	// ErrNotBBB means the answer was not a BBB API answer: wrong URL, a web
	// page, a redirect, or a client error status.
	ErrNotBBB = errors.New("not a BigBlueButton API answer")
	// ErrUnreachable means no answer in time: network error, timeout, or an
	// HTTP 5xx status.
	ErrUnreachable = errors.New("server unreachable")
)

// LeaseName is the store lease whose holder polls.
const LeaseName = "poller"

// Defaults of the Poller fields.
const (
	DefaultInterval    = 10 * time.Second
	DefaultTimeout     = 3 * time.Second
	DefaultDownAfter   = 2
	DefaultUpAfter     = 1
	DefaultGrace       = time.Minute
	DefaultConcurrency = 512
)

// Poller polls the servers of a Fleet. Set the fields before calling Run
// or PollOnce and do not change them afterwards. Run and PollOnce may be
// called from any goroutine, but rounds should not overlap (Run never
// overlaps its own rounds).
type Poller struct {
	// Fleet is the set of servers to poll and receives the health records.
	// Required.
	Fleet *fleet.Fleet
	// Store receives health records and holds the meeting map and the
	// lease; default Fleet.Store().
	Store tinyscale.Store
	// Interval is the time between rounds (TINYSCALE_POLL_INTERVAL);
	// default 10s.
	Interval time.Duration
	// Timeout bounds each server's call, from connecting to the last byte
	// of its answer; default 3s, and never more than Interval. A server
	// that does not answer in time counts as a failed poll. Decoding the
	// answer is not counted: it waits for one of GOMAXPROCS decode slots,
	// so that CPU-bound decoding cannot delay other servers' answers past
	// their timeout.
	Timeout time.Duration
	// DownAfter is the number of failed polls in a row after which an up
	// server is marked down; default 2.
	DownAfter int
	// UpAfter is the number of good polls in a row after which a down
	// server is marked up; default 1.
	UpAfter int
	// Grace protects new meetings: reconciliation never removes a meeting
	// whose CreatedAt is less than Grace ago; default 1 minute.
	Grace time.Duration
	// Concurrency is the maximum number of servers polled at once; default
	// 512, so that even 1,000 servers that all time out take two waves of
	// Timeout, well within the default interval. Set it above the number
	// of servers that may black-hole at once, or a round can take several
	// Timeouts.
	Concurrency int
	// Holder identifies this instance for the lease and must differ
	// between instances; default the host name plus a random suffix,
	// chosen once per Poller.
	Holder string
	// Logger receives state changes at info/warn and per-server failures
	// at debug; default slog.Default().
	Logger *slog.Logger
	// Metrics receives per-poll and per-round metrics; nil disables them.
	Metrics *metrics.Metrics
	// Now returns the current time for health timestamps, the Grace check
	// and learned meetings; default time.Now.
	Now func() time.Time

	holderOnce sync.Once
	holder     string
}

// settings are the Poller fields with defaults applied.
type settings struct {
	fleet       *fleet.Fleet
	store       tinyscale.Store
	interval    time.Duration
	timeout     time.Duration
	downAfter   int
	upAfter     int
	grace       time.Duration
	concurrency int
	leaseTTL    time.Duration
	log         *slog.Logger
	metrics     *metrics.Metrics
	now         func() time.Time
}

func (p *Poller) settings() (settings, error) {
	if p.Fleet == nil {
		return settings{}, errors.New("poller: Fleet is required")
	}
	s := settings{
		fleet: p.Fleet, store: p.Store, interval: p.Interval, timeout: p.Timeout,
		downAfter: p.DownAfter, upAfter: p.UpAfter, grace: p.Grace,
		concurrency: p.Concurrency, log: p.Logger, metrics: p.Metrics, now: p.Now,
	}
	if s.store == nil {
		s.store = p.Fleet.Store()
	}
	if s.store == nil {
		return settings{}, errors.New("poller: Store is required")
	}
	if s.interval <= 0 {
		s.interval = DefaultInterval
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	s.timeout = min(s.timeout, s.interval)
	if s.downAfter <= 0 {
		s.downAfter = DefaultDownAfter
	}
	if s.upAfter <= 0 {
		s.upAfter = DefaultUpAfter
	}
	if s.grace <= 0 {
		s.grace = DefaultGrace
	}
	if s.concurrency <= 0 {
		s.concurrency = DefaultConcurrency
	}
	// The holder renews every half interval, so the lease survives two
	// missed renewals; a standby that tries every half interval takes
	// over at most 1.5+0.5 = 2 intervals after the holder's last renewal.
	s.leaseTTL = s.interval * 3 / 2
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// HolderID returns the lease holder ID this Poller uses: Holder if set,
// otherwise one generated once.
func (p *Poller) HolderID() string {
	if p.Holder != "" {
		return p.Holder
	}
	p.holderOnce.Do(func() {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "tinyscale"
		}
		var b [4]byte
		_, _ = rand.Read(b[:])
		p.holder = host + "-" + hex.EncodeToString(b[:])
	})
	return p.holder
}

// Run polls until ctx ends. Every half interval it takes or renews the
// lease named LeaseName (ttl 1.5 intervals); while it holds the lease it
// polls once at once and then every interval. Round errors are logged.
// Run returns nil when ctx ends, after its round in flight has finished,
// or an error at once if the Poller is misconfigured.
func (p *Poller) Run(ctx context.Context) error {
	s, err := p.settings()
	if err != nil {
		return err
	}
	holder := p.HolderID()
	t := time.NewTicker(s.interval / 2)
	defer t.Stop()
	held, ticks := false, 0
	for {
		now, err := s.store.AcquireLease(ctx, LeaseName, holder, s.leaseTTL)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("poller lease", "err", err)
			now = false
		}
		switch {
		case now && !held:
			s.log.Info("poller lease acquired; polling", "holder", holder)
		case !now && held:
			s.log.Info("poller lease lost; standing by", "holder", holder)
		}
		if now && (!held || ticks >= 2) {
			if err := p.PollOnce(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("poll round", "err", err)
			}
			ticks = 0
		}
		held = now
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			ticks++
		}
	}
}

// result is the outcome of polling one server. It keeps only what the
// round needs from the answer, so that each answer's body can be
// collected as soon as it is decoded rather than at the end of the round.
type result struct {
	b            *fleet.Backend
	err          error
	meetings     []listed
	participants int
}

// listed is one meeting a server listed.
type listed struct {
	id         string
	internalID string
	createTime int64 // Unix ms, 0 if unknown
}

// PollOnce runs one round over every server of the fleet, whatever the
// lease: it polls them in parallel, writes all health records with one
// Store.PutHealth, applies them to the fleet, and reconciles the meeting
// map of the servers polled successfully. If ctx ends during the round,
// nothing is written and ctx's error is returned. Store errors are
// returned (joined) after the rest of the round has been done.
func (p *Poller) PollOnce(ctx context.Context) error {
	s, err := p.settings()
	if err != nil {
		return err
	}
	start := time.Now()
	backends := s.fleet.Backends()
	results := make([]result, len(backends))

	sem := make(chan struct{}, s.concurrency)
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
dispatch:
	for i, b := range backends {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break dispatch
		}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = p.pollServer(ctx, s, b, slots)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("poll round: %w", err)
	}

	now := s.now()
	hs := make([]tinyscale.Health, len(results))
	for i := range results {
		r := &results[i]
		hs[i] = nextHealth(r.b.Health, len(r.meetings), r.participants, r.err, now, s.downAfter, s.upAfter, r.b.Secret)
		logChange(s.log, r.b, hs[i])
	}
	var errs []error
	if err := s.store.PutHealth(ctx, hs...); err != nil {
		s.metrics.StoreError("put_health")
		errs = append(errs, fmt.Errorf("poll round: store health: %w", err))
	}
	// Apply locally even if the store failed: this instance's placement
	// should not wait for the store to come back.
	s.fleet.UpdateHealth(hs...)

	if err := p.reconcile(ctx, s, results, now); err != nil {
		errs = append(errs, err)
	}
	s.metrics.PollRound(time.Since(start))
	return errors.Join(errs...)
}

// pollServer polls one server: the call and the answer's transfer are
// bounded by the timeout; decoding then waits for one of the parse slots.
//
// Decoding is CPU-bound (about a hundred MB/s, and a busy server's answer
// is hundreds of kB). Were every in-flight poll to decode
// at once, hundreds of runnable goroutines would delay the network reads
// of the others past their timeout and healthy servers would be marked as
// failing; with at most GOMAXPROCS decoders, reads are scheduled promptly.
func (p *Poller) pollServer(ctx context.Context, s settings, b *fleet.Backend, slots chan struct{}) result {
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	body, err := fetch(tctx, b)
	cancel()
	r := result{b: b, err: err}
	if err == nil {
		select {
		case slots <- struct{}{}:
			var entries []bbb.MeetingEntry
			entries, r.err = parse(b, body)
			<-slots
			r.meetings = make([]listed, len(entries))
			for i, e := range entries {
				r.meetings[i] = listed{id: e.MeetingID, internalID: e.InternalID, createTime: e.CreateTime}
				r.participants += e.Participants
			}
		case <-ctx.Done():
			r.err = ctx.Err()
		}
	}
	s.metrics.Poll(b.ID, r.err)
	if r.err != nil {
		s.log.Debug("poll failed", "server", b.ID, "err", scrub(r.err.Error(), b.Secret))
	}
	return r
}

// nextHealth computes a server's health after one poll: the counts from a
// good poll (the previous ones after a failed poll), the run lengths of
// good and failed polls, and Up with hysteresis. A server never polled
// (prev.CheckedAt zero) counts as up before the poll.
func nextHealth(prev tinyscale.Health, meetings, participants int, pollErr error, now time.Time, downAfter, upAfter int, secret string) tinyscale.Health {
	h := prev
	h.CheckedAt = now
	wasUp := prev.Up || prev.CheckedAt.IsZero()
	if pollErr != nil {
		h.Fails++
		h.Successes = 0
		h.LastError = scrub(pollErr.Error(), secret)
		h.Up = wasUp && h.Fails < downAfter
		return h
	}
	h.Successes++
	h.Fails = 0
	h.LastError = ""
	h.Up = wasUp || h.Successes >= upAfter
	h.Meetings, h.Participants = meetings, participants
	return h
}

// logChange logs a server going down or coming back.
func logChange(log *slog.Logger, b *fleet.Backend, h tinyscale.Health) {
	wasUp := b.Up()
	switch {
	case wasUp && !h.Up:
		log.Warn("server down", "server", b.ID, "fails", h.Fails, "err", h.LastError)
	case !wasUp && h.Up:
		log.Info("server up", "server", b.ID, "meetings", h.Meetings, "participants", h.Participants)
	}
}

// scrub removes anything that looks like a secret or checksum from an
// error message: the secret itself and the value of any checksum
// parameter. bbb.Client already strips query strings from URL errors;
// this guards against other paths.
func scrub(msg, secret string) string {
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, "[secret]")
	}
	const key = "checksum="
	var b strings.Builder
	for {
		i := strings.Index(msg, key)
		if i < 0 {
			break
		}
		b.WriteString(msg[:i+len(key)])
		b.WriteString("[redacted]")
		msg = msg[i+len(key):]
		j := strings.IndexFunc(msg, func(r rune) bool {
			return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F')
		})
		if j < 0 {
			msg = ""
			break
		}
		msg = msg[j:]
	}
	b.WriteString(msg)
	return b.String()
}

// DefaultProbeTimeout bounds Probe when ctx has no deadline.
const DefaultProbeTimeout = DefaultTimeout

// Probe makes one signed getMeetings call to b, as done at start-up and
// when a server is added, and classifies the outcome: nil for a SUCCESS
// answer; an error wrapping ErrBadSecret for FAILED checksumError,
// ErrNotBBB for an answer that is not BBB XML (or a non-5xx error status,
// or a redirect), ErrUnreachable for network errors, timeouts and 5xx
// statuses. Other FAILED answers yield an error wrapping the *bbb.Error.
// Messages name the server ID and never contain the secret or a checksum.
// If ctx has no deadline, DefaultProbeTimeout applies.
func Probe(ctx context.Context, b *fleet.Backend) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultProbeTimeout)
		defer cancel()
	}
	if _, err := fetchMeetings(ctx, b); err != nil {
		return &redactedError{msg: "probe " + scrub(err.Error(), b.Secret), err: err}
	}
	return nil
}

// redactedError carries a scrubbed message while keeping the error chain
// for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// fetchMeetings calls getMeetings on b and parses the answer. Errors name
// the server and wrap ErrUnreachable, ErrNotBBB, ErrBadSecret or the
// server's *bbb.Error, plus the cause.
func fetchMeetings(ctx context.Context, b *fleet.Backend) ([]bbb.MeetingEntry, error) {
	body, err := fetch(ctx, b)
	if err != nil {
		return nil, err
	}
	return parse(b, body)
}

// fetch calls getMeetings on b and returns the body of a 200 answer. Every
// failure wraps ErrUnreachable or ErrNotBBB.
func fetch(ctx context.Context, b *fleet.Backend) ([]byte, error) {
	if b.Client == nil {
		return nil, fmt.Errorf("server %s: %w: no client", b.ID, ErrUnreachable)
	}
	resp, err := b.Client.Do(ctx, http.MethodGet, bbb.CallGetMeetings, "", "", nil)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w: %w", b.ID, ErrUnreachable, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 500:
		return nil, fmt.Errorf("server %s: %w: getMeetings: HTTP status %d", b.ID, ErrUnreachable, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("server %s: %w: getMeetings: HTTP status %d", b.ID, ErrNotBBB, resp.StatusCode)
	}
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= bbb.MaxResponse {
		buf.Grow(int(n) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, bbb.MaxResponse)); err != nil {
		return nil, fmt.Errorf("server %s: %w: read getMeetings answer: %w", b.ID, ErrUnreachable, err)
	}
	return buf.Bytes(), nil
}

// parse decodes a getMeetings body of b. Errors wrap ErrBadSecret for
// FAILED checksumError, the *bbb.Error for other FAILED answers, and
// ErrNotBBB for anything that is not a BBB answer.
func parse(b *fleet.Backend, body []byte) ([]bbb.MeetingEntry, error) {
	entries, err := bbb.ParseMeetingsWithoutMetadata(body)
	if err != nil {
		var be *bbb.Error
		switch {
		case errors.As(err, &be) && be.Key == bbb.ErrChecksum.Key:
			return nil, fmt.Errorf("server %s: %w: %w", b.ID, ErrBadSecret, err)
		case errors.As(err, &be):
			return nil, fmt.Errorf("server %s: %w", b.ID, err)
		default:
			return nil, fmt.Errorf("server %s: %w: %w", b.ID, ErrNotBBB, err)
		}
	}
	return entries, nil
}
