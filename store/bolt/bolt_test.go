package bolt_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/store/bolt"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// open opens a store at path and closes it when the test ends.
func open(t *testing.T, path string, opts ...bolt.Option) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, opts...)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) tinyscale.Store {
			return open(t, filepath.Join(t.TempDir(), "test.db"))
		},
		storetest.WithReopen(func(t *testing.T) func() tinyscale.Store {
			path := filepath.Join(t.TempDir(), "test.db")
			return func() tinyscale.Store { return open(t, path) }
		}),
	)
}

func TestOpen(t *testing.T) {
	t.Run("creates_parent_dir_and_private_file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "tinyscale.db")
		s := open(t, path)
		if got := s.Path(); got != path {
			t.Errorf("Path: got %q, want %q", got, path)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("Stat: got error %v, want nil", err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("file mode: got %v, want %v", got, want)
		}
	})
	t.Run("locked_by_other_holder", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tinyscale.db")
		first := open(t, path)
		_, err := bolt.Open(path, bolt.WithLockTimeout(50*time.Millisecond))
		if !errors.Is(err, bolt.ErrLocked) {
			t.Fatalf("second Open: got %v, want an error wrapping ErrLocked", err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("second Open error: got %q, want it to name the file", err)
		}
		if err := first.Close(); err != nil {
			t.Fatalf("Close: got %v, want nil", err)
		}
		open(t, path, bolt.WithLockTimeout(50*time.Millisecond))
	})
	t.Run("path_is_directory", func(t *testing.T) {
		_, err := bolt.Open(t.TempDir())
		if err == nil {
			t.Fatal("Open(directory): got nil error, want an error")
		}
		if errors.Is(err, bolt.ErrLocked) {
			t.Errorf("Open(directory): got %v, want an error not wrapping ErrLocked", err)
		}
	})
	t.Run("not_a_database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "garbage.db")
		if err := os.WriteFile(path, bytes.Repeat([]byte("not bolt "), 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := bolt.Open(path); err == nil {
			t.Error("Open(garbage file): got nil error, want an error")
		}
	})
}

// crashEnv tells the re-executed test binary to act as the crash child and
// names its database file.
const crashEnv = "TINYSCALE_BOLT_CRASH_CHILD"

// TestStore_CrashChild is the child half of TestStore_SurvivesSIGKILL: it
// writes as fast as it can and prints one "ack" line after each write
// returns, until it is killed.
func TestStore_CrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestStore_SurvivesSIGKILL; runs only when re-executed by it")
	}
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("child Open: %v", err)
	}
	ctx := context.Background()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1_000_000 {
		id := fmt.Sprintf("m%07d", i)
		m := tinyscale.Meeting{ID: id, ServerID: "s" + strconv.Itoa(i%5), CreatedAt: base.Add(time.Duration(i) * time.Second)}
		if _, stored, err := s.ClaimMeeting(ctx, m, ""); err != nil || !stored {
			t.Fatalf("child ClaimMeeting(%s): stored=%v err=%v", id, stored, err)
		}
		fmt.Printf("ack claim %s end\n", id)
		if i%3 == 0 {
			m.InternalID = "internal-" + id
			if err := s.PutMeeting(ctx, m); err != nil {
				t.Fatalf("child PutMeeting(%s): %v", id, err)
			}
			fmt.Printf("ack internal %s end\n", id)
		}
		if i%4 == 0 {
			n, err := s.NextHookID(ctx)
			if err != nil {
				t.Fatalf("child NextHookID: %v", err)
			}
			fmt.Printf("ack hookid %d end\n", n)
		}
	}
}

// TestStore_SurvivesSIGKILL kills a writing child process with SIGKILL and
// checks that every write it acknowledged is in the file afterwards.
func TestStore_SurvivesSIGKILL(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("running as the crash child")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStore_CrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}

	const killAfter = 150 // acknowledged claims before the kill
	claims := map[string]bool{}
	internal := map[string]bool{}
	var maxHookID int64
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "ack" || f[3] != "end" {
			continue // a torn last line or test framework output
		}
		switch f[1] {
		case "claim":
			claims[f[2]] = true
		case "internal":
			internal[f[2]] = true
		case "hookid":
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("child printed bad hook id %q", f[2])
			}
			maxHookID = max(maxHookID, n)
		}
		if !killed && len(claims) >= killAfter {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatalf("kill child: %v", err)
			}
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("child stopped after %d acknowledged claims, before the kill; stderr:\n%s", len(claims), stderr.String())
	}

	s := open(t, path)
	for id := range claims {
		m, err := s.Meeting(t.Context(), id)
		if err != nil {
			t.Errorf("acknowledged meeting %s after SIGKILL: got error %v, want it stored", id, err)
			continue
		}
		if internal[id] && m.InternalID != "internal-"+id {
			t.Errorf("meeting %s InternalID: got %q, want %q (acknowledged PutMeeting lost)", id, m.InternalID, "internal-"+id)
		}
	}
	since, err := s.MeetingsSince(t.Context(), time.Time{})
	if err != nil {
		t.Fatalf("MeetingsSince: %v", err)
	}
	if got, want := len(since), len(claims); got < want {
		t.Errorf("MeetingsSince after SIGKILL: got %d meetings, want at least the %d acknowledged", got, want)
	}
	n, err := s.NextHookID(t.Context())
	if err != nil || n <= maxHookID {
		t.Errorf("NextHookID after SIGKILL: got (%d, %v), want above the acknowledged %d", n, err, maxHookID)
	}
}
