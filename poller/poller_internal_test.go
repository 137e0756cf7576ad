package poller

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
)

// TestNextHealth_Hysteresis feeds sequences of good (+) and failed (-)
// polls and checks Up after each one.
func TestNextHealth_Hysteresis(t *testing.T) {
	tests := []struct {
		name      string
		downAfter int
		upAfter   int
		startDown bool   // start from a server already marked down
		polls     string // + good, - failed
		wantUp    string // U up, D down, after each poll
	}{
		{"defaults_one_failure_stays_up", 2, 1, false, "-", "U"},
		{"defaults_two_failures_down", 2, 1, false, "--", "UD"},
		{"defaults_failure_then_good_resets", 2, 1, false, "-+-", "UUU"},
		{"defaults_one_good_brings_back", 2, 1, false, "--+", "UDU"},
		{"defaults_flapping_never_down", 2, 1, false, "-+-+-+", "UUUUUU"},
		{"down_after_one", 1, 1, false, "-+", "DU"},
		{"down_after_three", 3, 1, false, "---", "UUD"},
		{"up_after_three", 2, 3, false, "--+++", "UDDDU"},
		{"up_after_three_interrupted", 2, 3, false, "--++-+++", "UDDDDDDU"},
		{"start_down_needs_up_after", 1, 2, true, "++", "DU"},
		{"start_down_stays_down_on_failures", 2, 1, true, "--", "DD"},
		{"never_polled_counts_as_up", 2, 1, false, "+", "U"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			var h tinyscale.Health
			if tt.startDown {
				h = tinyscale.Health{ServerID: "s", Up: false, CheckedAt: now, Fails: 5}
			}
			var got strings.Builder
			for i, c := range tt.polls {
				now = now.Add(time.Second)
				var err error
				if c == '-' {
					err = errors.New("boom")
				}
				h = nextHealth(h, 0, 0, err, now, tt.downAfter, tt.upAfter, "")
				if !h.CheckedAt.Equal(now) {
					t.Fatalf("poll %d: CheckedAt = %v, want %v", i, h.CheckedAt, now)
				}
				if h.Up {
					got.WriteByte('U')
				} else {
					got.WriteByte('D')
				}
			}
			if got.String() != tt.wantUp {
				t.Errorf("up after each poll of %q = %s, want %s", tt.polls, got.String(), tt.wantUp)
			}
		})
	}
}

func TestNextHealth_Counts(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		prev      tinyscale.Health
		meetings  int
		people    int
		err       error
		want      tinyscale.Health
		secretOut string // must not appear in LastError
	}{
		{
			name:     "good_poll_counts",
			prev:     tinyscale.Health{ServerID: "s", Up: true, Meetings: 9, Participants: 99, LastError: "old", Fails: 1},
			meetings: 3, people: 10,
			want: tinyscale.Health{ServerID: "s", Up: true, Meetings: 3, Participants: 10, CheckedAt: now, Successes: 1},
		},
		{
			name: "good_poll_empty",
			prev: tinyscale.Health{ServerID: "s", Up: true, Meetings: 9, Participants: 99},
			want: tinyscale.Health{ServerID: "s", Up: true, CheckedAt: now, Successes: 1},
		},
		{
			name: "failed_poll_keeps_counts",
			prev: tinyscale.Health{ServerID: "s", Up: true, Meetings: 9, Participants: 99, Successes: 4, CheckedAt: now.Add(-time.Minute)},
			err:  errors.New("server s: unreachable: dial tcp: refused"),
			want: tinyscale.Health{ServerID: "s", Up: true, Meetings: 9, Participants: 99, CheckedAt: now, Fails: 1,
				LastError: "server s: unreachable: dial tcp: refused"},
		},
		{
			name: "failed_poll_scrubs_secret",
			prev: tinyscale.Health{ServerID: "s", Up: true},
			err:  errors.New("GET /api/getMeetings?checksum=0123abcd: bad topsecret"),
			want: tinyscale.Health{ServerID: "s", Up: true, CheckedAt: now, Fails: 1,
				LastError: "GET /api/getMeetings?checksum=[redacted]: bad [secret]"},
			secretOut: "topsecret",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nextHealth(tt.prev, tt.meetings, tt.people, tt.err, now, 2, 1, "topsecret")
			if got != tt.want {
				t.Errorf("nextHealth =\n%+v\nwant\n%+v", got, tt.want)
			}
			if tt.secretOut != "" && strings.Contains(got.LastError, tt.secretOut) {
				t.Errorf("LastError %q contains the secret", got.LastError)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	tests := []struct {
		name   string
		msg    string
		secret string
		want   string
	}{
		{"nothing", "dial tcp: refused", "s3cret", "dial tcp: refused"},
		{"secret", "bad s3cret here", "s3cret", "bad [secret] here"},
		{"secret_twice", "s3cret s3cret", "s3cret", "[secret] [secret]"},
		{"empty_secret", "abc", "", "abc"},
		{"checksum_end", "url?checksum=abcdef0123", "", "url?checksum=[redacted]"},
		{"checksum_middle", "url?a=1&checksum=ABCDEF&b=2 x", "", "url?a=1&checksum=[redacted]&b=2 x"},
		{"checksum_twice", "checksum=aa checksum=bb", "", "checksum=[redacted] checksum=[redacted]"},
		{"checksum_empty_value", "checksum=&x", "", "checksum=[redacted]&x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scrub(tt.msg, tt.secret); got != tt.want {
				t.Errorf("scrub(%q) = %q, want %q", tt.msg, got, tt.want)
			}
		})
	}
}

func FuzzScrub(f *testing.F) {
	f.Add("url?checksum=abcdef&x=1", "secret")
	f.Add("checksum=checksum=0", "")
	f.Add("s3cret", "s3cret")
	f.Fuzz(func(t *testing.T, msg, secret string) {
		got := scrub(msg, secret)
		// Every checksum= is followed by the redaction marker, never by
		// a hex digit.
		rest := got
		for {
			i := strings.Index(rest, "checksum=")
			if i < 0 {
				break
			}
			rest = rest[i+len("checksum="):]
			if !strings.HasPrefix(rest, "[redacted]") {
				t.Fatalf("scrub(%q) = %q: checksum value not redacted", msg, got)
			}
		}
		if len(secret) >= 8 && !strings.ContainsAny(secret, "[]") && strings.Contains(got, secret) &&
			!strings.Contains(secret, "checksum") && !strings.Contains(secret, "redacted") {
			t.Fatalf("scrub(%q, %q) = %q still contains the secret", msg, secret, got)
		}
	})
}

func TestLearnedAt(t *testing.T) {
	now := time.Date(2024, 5, 31, 16, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		ms   int64
		want time.Time
	}{
		{"unknown", 0, now},
		{"negative", -5, now},
		{"past", now.Add(-time.Hour).UnixMilli(), now.Add(-time.Hour)},
		{"future_clock_skew", now.Add(time.Hour).UnixMilli(), now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := learnedAt(tt.ms, now); !got.Equal(tt.want) {
				t.Errorf("learnedAt(%d) = %v, want %v", tt.ms, got, tt.want)
			}
		})
	}
}
