package fleet

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestReloadLog checks that a store outage is logged when it starts, then
// every 30s, and when it ends. Every failed reload used to log a line:
// two a second per instance for as long as Redis was down.
func TestReloadLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	down := errors.New("store unavailable")
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var rl reloadLog
	// One reload every 500ms: 10s fine, 70s down, then fine again.
	for i := 0; i < 200; i++ {
		now := start.Add(time.Duration(i) * 500 * time.Millisecond)
		var err error
		if i >= 20 && i < 160 {
			err = down
		}
		rl.record(log, err, now)
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=WARN msg="fleet reload failed; using the last servers and health read" failures=1 err="store unavailable"`,
		`level=WARN msg="fleet reload failed; using the last servers and health read" failures=61 err="store unavailable"`,
		`level=WARN msg="fleet reload failed; using the last servers and health read" failures=121 err="store unavailable"`,
		`level=INFO msg="fleet reload works again" failures=140`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got log lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
