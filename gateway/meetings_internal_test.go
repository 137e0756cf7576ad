package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/bbb"
)

func TestWantsRedirect(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  bool
	}{
		{"absent", "meetingID=a", true},
		{"empty", "redirect=", true},
		{"true", "redirect=true", true},
		{"true_upper", "redirect=TRUE", true},
		{"false", "redirect=false", false},
		{"false_upper", "redirect=False", false},
		{"garbage_is_false", "redirect=yes", false},
		{"first_wins", "redirect=false&redirect=true", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wantsRedirect(bbb.ParseQuery(tt.query)); got != tt.want {
				t.Errorf("wantsRedirect(%q): got %v, want %v", tt.query, got, tt.want)
			}
		})
	}
}

func TestRedirectableURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"https", "https://lms.example.org/x?a=b", true},
		{"http", "http://lms.example.org", true},
		{"empty", "", false},
		{"relative", "/error", false},
		{"javascript", "javascript:alert(1)", false},
		{"no_host", "https:///x", false},
		{"ctl", "https://a.example/\nx", false},
		{"too_long", "https://a.example/" + strings.Repeat("a", 9000), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redirectableURL(tt.in); got != tt.want {
				t.Errorf("redirectableURL(%q): got %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestWithErrors(t *testing.T) {
	e := bbb.NewError("meetingForciblyEnded", "You can not join a meeting that has already been forcibly ended")
	const enc = `[%7B%22key%22:%22meetingForciblyEnded%22,%22message%22:%22You%20can%20not%20join%20a%20meeting%20that%20has%20already%20been%20forcibly%20ended%22%7D]`
	tests := []struct {
		name, target, want string
	}{
		{"no_query", "https://a.example/err", "https://a.example/err?errors=" + enc},
		{"query", "https://a.example/err?x=1", "https://a.example/err?x=1&errors=" + enc},
		{"trailing_question", "https://a.example/err?", "https://a.example/err?errors=" + enc},
		{"trailing_amp", "https://a.example/err?x=1&", "https://a.example/err?x=1&errors=" + enc},
		{"fragment", "https://a.example/err?x=1#top", "https://a.example/err?x=1&errors=" + enc + "#top"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := withErrors(tt.target, e); got != tt.want {
				t.Errorf("withErrors(%q):\n got %s\nwant %s", tt.target, got, tt.want)
			}
		})
	}
}

// FuzzWithErrors checks that any key and message survive the round trip
// through the errors parameter, and that the result stays a valid URL.
func FuzzWithErrors(f *testing.F) {
	f.Add("https://lms.example.org/e?a=b", "notFound", "A meeting with that ID does not exist")
	f.Add("http://x.example", "checksumError", `"quoted" & <tagged> ü €`)
	f.Add("https://x.example/p#frag", "k", "100% sure\n")
	f.Fuzz(func(t *testing.T, target, key, message string) {
		if !redirectableURL(target) || strings.Contains(target, "errors=") {
			t.Skip()
		}
		got := withErrors(target, bbb.NewError(key, message))
		if strings.ContainsAny(got, "\r\n\x00") {
			t.Fatalf("line break in %q", got)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("result %q: %v", got, err)
		}
		raw := u.RawQuery
		i := strings.LastIndex(raw, "errors=")
		if i < 0 {
			t.Fatalf("no errors parameter in %q", got)
		}
		v, err := url.QueryUnescape(raw[i+len("errors="):])
		if err != nil {
			t.Fatalf("errors parameter: %v", err)
		}
		var errs []struct{ Key, Message string }
		if err := json.Unmarshal([]byte(v), &errs); err != nil {
			t.Fatalf("errors JSON %q: %v", v, err)
		}
		if len(errs) != 1 {
			t.Fatalf("got %d errors, want 1", len(errs))
		}
		// JSON carries each invalid UTF-8 byte as U+FFFD, as []rune does.
		wantKey, wantMsg := string([]rune(key)), string([]rune(message))
		if errs[0].Key != wantKey || errs[0].Message != wantMsg {
			t.Errorf("got %+v, want key %q message %q", errs[0], wantKey, wantMsg)
		}
	})
}

func TestNegativeCache(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	g := &Gateway{cfg: Config{NegativeTTL: time.Second, Now: func() time.Time { return now }}, neg: map[string]time.Time{}}
	g.setNegative("a")
	if !g.negative("a") {
		t.Errorf("negative(a) right after set: got false, want true")
	}
	if g.negative("b") {
		t.Errorf("negative(b): got true, want false")
	}
	now = now.Add(time.Second)
	if g.negative("a") {
		t.Errorf("negative(a) after TTL: got true, want false")
	}
	if _, ok := g.neg["a"]; ok {
		t.Errorf("expired entry kept")
	}
	g.setNegative("c")
	g.clearNegative("c")
	if g.negative("c") {
		t.Errorf("negative(c) after clear: got true, want false")
	}

	t.Run("bounded", func(t *testing.T) {
		defer func(n int) { maxNegative = n }(maxNegative)
		maxNegative = 100
		for i := 0; i < maxNegative+10; i++ {
			g.setNegative(fmt.Sprint("id-", i))
		}
		if n := len(g.neg); n > maxNegative {
			t.Errorf("cache size: got %d, want at most %d", n, maxNegative)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		g := &Gateway{cfg: Config{NegativeTTL: -1, Now: time.Now}, neg: map[string]time.Time{}}
		g.setNegative("a")
		if g.negative("a") {
			t.Errorf("negative with TTL<0: got true, want false")
		}
	})
}

func TestNotSent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"dial", fmt.Errorf("server x: %w", &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("refused")}}), true},
		{"read", &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "read", Err: errors.New("reset")}}, false},
		{"timeout", fmt.Errorf("x: %w", errors.New("context deadline exceeded")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := notSent(tt.err); got != tt.want {
				t.Errorf("notSent: got %v, want %v", got, tt.want)
			}
		})
	}
}
