//go:build unix

package poller_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/balancer"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/poller"
	"github.com/tinyscale/tinyscale/store/bolt"
)

// Scale simulation (issue: 1,000 simulated servers of which 10% black-hole
// connections, 100,000 meetings). Run with
//
//	go test -run '^$' -bench BenchmarkScale_PollRound -benchtime 3x ./poller/
//
// Every simulated server has its own host name, so the HTTP transport
// keeps one connection pool per server exactly as it does in production;
// a custom dialer connects every name to one of two local listeners: an
// HTTP server answering getMeetings with 100 meetings, or a TCP listener
// that accepts connections and never answers (the black-holed 10%).
const (
	scaleServers     = 1000
	scaleMeetings    = 100 // per server
	scaleBlackholeIn = 10  // every 10th server black-holes
	scaleYoungEvery  = 50  // every 50th meeting is young (placed in the last 2 minutes)
	scaleYoungAge    = 2 * time.Minute
)

func scaleHost(i int) string { return fmt.Sprintf("bbb%04d.scale.test", i) }

func scaleMeetingID(server, j int) string { return fmt.Sprintf("room-%04d-%03d", server, j) }

// scaleMeetingsXML renders a getMeetings answer with n meetings of about
// the size BBB sends: the usual meeting fields, metadata, and one
// attendee element per participant (0..9 participants).
func scaleMeetingsXML(server, n int, created time.Time) []byte {
	var b strings.Builder
	b.WriteString("<response><returncode>SUCCESS</returncode><meetings>")
	for j := range n {
		id := scaleMeetingID(server, j)
		sum := sha1.Sum([]byte(id))
		ct := strconv.FormatInt(created.UnixMilli(), 10)
		participants := (server + j) % 10
		fmt.Fprintf(&b, "<meeting><meetingName>Room %d/%d</meetingName><meetingID>%s</meetingID>"+
			"<internalMeetingID>%s-%s</internalMeetingID><createTime>%s</createTime>"+
			"<createDate>Mon Jan 01 00:00:00 UTC 2024</createDate><voiceBridge>%05d</voiceBridge>"+
			"<dialNumber>613-555-1234</dialNumber><attendeePW>ap</attendeePW><moderatorPW>mp</moderatorPW>"+
			"<running>true</running><duration>0</duration><hasUserJoined>true</hasUserJoined>"+
			"<recording>false</recording><hasBeenForciblyEnded>false</hasBeenForciblyEnded>"+
			"<startTime>%s</startTime><endTime>0</endTime><participantCount>%d</participantCount>"+
			"<listenerCount>0</listenerCount><voiceParticipantCount>%d</voiceParticipantCount>"+
			"<videoCount>1</videoCount><maxUsers>0</maxUsers><moderatorCount>1</moderatorCount><attendees>",
			server, j, id, hex.EncodeToString(sum[:]), ct, ct, 10000+j, ct, participants, participants/2)
		for k := range participants {
			fmt.Fprintf(&b, "<attendee><userID>w_%d_%d</userID><fullName>User %d</fullName><role>VIEWER</role>"+
				"<isPresenter>false</isPresenter><isListeningOnly>false</isListeningOnly>"+
				"<hasJoinedVoice>true</hasJoinedVoice><hasVideo>false</hasVideo><clientType>HTML5</clientType></attendee>",
				j, k, k)
		}
		b.WriteString("</attendees><metadata><bbb-origin>greenlight</bbb-origin></metadata><isBreakout>false</isBreakout></meeting>")
	}
	b.WriteString("</meetings></response>")
	return []byte(b.String())
}

// blackhole accepts TCP connections and never answers; Close releases
// them.
type blackhole struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  sync.WaitGroup
}

func newBlackhole(tb testing.TB) *blackhole {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	h := &blackhole{ln: ln}
	h.done.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}
	})
	tb.Cleanup(func() {
		_ = ln.Close()
		h.done.Wait()
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.conns {
			_ = c.Close()
		}
	})
	return h
}

// seedScaleStore writes the servers and meetings. bbolt commits every
// write with fsync, so 100,000 single writes take minutes on a disk; the
// file is built on tmpfs when there is one and then copied into dir.
func seedScaleStore(b *testing.B, dir string, servers []tinyscale.Server, now time.Time) string {
	b.Helper()
	build := dir
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "tinyscale-scale-"); err == nil {
			build = d
			defer os.RemoveAll(d)
		}
	}
	path := filepath.Join(build, "seed.db")
	st, err := bolt.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, s := range servers {
		if err := st.PutServer(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	for i := range servers {
		for j := range scaleMeetings {
			created := now.Add(-time.Duration(1+j) * time.Hour)
			if j%scaleYoungEvery == 0 {
				created = now.Add(-time.Duration(j%60+1) * time.Second)
			}
			m := tinyscale.Meeting{ID: scaleMeetingID(i, j), ServerID: servers[i].ID, CreatedAt: created}
			if err := st.PutMeeting(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	final := filepath.Join(dir, "tinyscale.db")
	if build != dir {
		in, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer in.Close()
		out, err := os.OpenFile(final, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			b.Fatal(err)
		}
		if err := out.Close(); err != nil {
			b.Fatal(err)
		}
		return final
	}
	if err := os.Rename(path, final); err != nil {
		b.Fatal(err)
	}
	return final
}

// cpuTime returns the process's user+system CPU time. It includes the
// simulated servers' share (writing their answers), which is small next
// to decoding them.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// place does what the gateway does for one create: count young meetings
// per server from the store, build the candidates of the placeable
// servers, filter by tag, pick.
func place(ctx context.Context, st tinyscale.Store, f *fleet.Fleet, p balancer.Policy, now time.Time) (string, error) {
	young, err := st.MeetingsSince(ctx, now.Add(-scaleYoungAge))
	if err != nil {
		return "", err
	}
	count := make(map[string]int)
	for _, m := range young {
		count[m.ServerID]++
	}
	var cands []balancer.Candidate
	for _, b := range f.Backends() {
		if b.Placeable() {
			cands = append(cands, balancer.Candidate{Server: b.Server, Health: b.Health, Young: count[b.ID]})
		}
	}
	cands, err = balancer.ByTag(cands, "", false, "")
	if err != nil {
		return "", err
	}
	i, err := p.Pick(cands)
	if err != nil {
		return "", err
	}
	return cands[i].Server.ID, nil
}

func BenchmarkScale_PollRound(b *testing.B) {
	now := time.Now()
	bodies := make(map[string][]byte, scaleServers)
	servers := make([]tinyscale.Server, scaleServers)
	for i := range scaleServers {
		host := scaleHost(i)
		servers[i] = tinyscale.Server{
			ID: host, URL: "http://" + host + "/bigbluebutton/api/", Secret: "scale-secret",
			Weight: 1, State: tinyscale.StateEnabled,
		}
		if i%scaleBlackholeIn != 0 {
			bodies[host] = scaleMeetingsXML(i, scaleMeetings, now.Add(-time.Hour))
		}
	}

	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := bodies[strings.TrimSuffix(r.Host, ":80")]
		if !ok || r.URL.Path != "/bigbluebutton/api/getMeetings" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/xml;charset=utf-8")
		_, _ = w.Write(body)
	}))
	b.Cleanup(good.Close)
	hole := newBlackhole(b)
	goodAddr, holeAddr := good.Listener.Addr().String(), hole.ln.Addr().String()

	hc := fleet.NewHTTPClient()
	tr := hc.Transport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if _, ok := bodies[host]; ok {
			return dialer.DialContext(ctx, network, goodAddr)
		}
		return dialer.DialContext(ctx, network, holeAddr)
	}
	tr.Proxy = nil
	hc.Transport = tr
	b.Cleanup(tr.CloseIdleConnections)

	dir := b.TempDir()
	path := seedScaleStore(b, dir, servers, now)
	st, err := bolt.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })

	ctx := context.Background()
	f := fleet.New(st, fleet.Options{HTTPClient: hc, Logger: slog.New(slog.DiscardHandler)})
	if err := f.Reload(ctx); err != nil {
		b.Fatal(err)
	}
	p := &poller.Poller{
		Fleet:    f,
		Interval: 10 * time.Second,
		Timeout:  3 * time.Second,
		Logger:   slog.New(slog.DiscardHandler),
	}

	var round time.Duration
	var rounds int
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0) // baseline: the simulated servers' answers, the store, the fleet
	cpu0 := cpuTime(b)
	for b.Loop() {
		start := time.Now()
		if err := p.PollOnce(ctx); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		round += d
		rounds++
		if d > p.Interval {
			b.Errorf("round took %v, want within the interval %v", d, p.Interval)
		}
	}
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	runtime.ReadMemStats(&ms1)
	allocPerRound := float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(rounds)
	runtime.GC()
	runtime.ReadMemStats(&ms1)

	// Check the round's outcome: the black-holed servers failed once
	// (still up, hysteresis), the others report their meetings, and no
	// meeting was lost.
	var failed, meetings int
	for _, be := range f.Backends() {
		if be.Health.Fails > 0 {
			failed++
		}
		meetings += be.Health.Meetings
	}
	if want := scaleServers / scaleBlackholeIn; failed != want {
		b.Errorf("servers with failed polls = %d, want %d", failed, want)
	}
	if want := (scaleServers - scaleServers/scaleBlackholeIn) * scaleMeetings; meetings != want {
		b.Errorf("polled meetings = %d, want %d", meetings, want)
	}
	stored, err := st.Meetings(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if len(stored) != scaleServers*scaleMeetings {
		b.Errorf("stored meetings = %d, want %d", len(stored), scaleServers*scaleMeetings)
	}

	// Placement: what the gateway does per create, over 1,000 candidates.
	const placements = 50
	pol := &balancer.LeastLoaded{}
	pstart := time.Now()
	for range placements {
		if _, err := place(ctx, st, f, pol, now); err != nil {
			b.Fatal(err)
		}
	}
	placeTime := time.Since(pstart) / placements

	b.Logf("rounds %d: %.2fs wall, %.2fs CPU per round; heap in use %.0f MB (%.0f MB more than before the rounds); %.0f MB allocated per round; placement %v",
		rounds, round.Seconds()/float64(rounds), cpu.Seconds()/float64(rounds), float64(ms1.HeapInuse)/(1<<20),
		(float64(ms1.HeapInuse)-float64(ms0.HeapInuse))/(1<<20), allocPerRound/(1<<20), placeTime)
	b.ReportMetric(round.Seconds()/float64(rounds), "round-s")
	b.ReportMetric(cpu.Seconds()/float64(rounds), "cpu-s/round")
	b.ReportMetric(float64(ms1.HeapInuse)/(1<<20), "heap-inuse-MB")
	b.ReportMetric((float64(ms1.HeapInuse)-float64(ms0.HeapInuse))/(1<<20), "heap-retained-by-rounds-MB")
	b.ReportMetric(allocPerRound/(1<<20), "alloc-MB/round")
	b.ReportMetric(float64(placeTime.Microseconds()), "placement-µs")
	b.ReportMetric(0, "ns/op") // round-s says it; ns/op would repeat it
}
