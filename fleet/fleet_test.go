package fleet_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/store/bolt"
)

func TestBackend_States(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name                          string
		state                         tinyscale.ServerState
		health                        tinyscale.Health
		placeable, routable, inFanOut bool
	}{
		{"never_polled_counts_as_up", tinyscale.StateEnabled, tinyscale.Health{}, true, true, true},
		{"enabled_up", tinyscale.StateEnabled, tinyscale.Health{Up: true, CheckedAt: now}, true, true, true},
		{"enabled_down", tinyscale.StateEnabled, tinyscale.Health{Up: false, CheckedAt: now}, false, false, false},
		{"cordoned_up", tinyscale.StateCordoned, tinyscale.Health{Up: true, CheckedAt: now}, false, true, true},
		{"disabled_with_meetings", tinyscale.StateDisabled, tinyscale.Health{Up: true, CheckedAt: now, Meetings: 2}, false, true, true},
		{"disabled_drained", tinyscale.StateDisabled, tinyscale.Health{Up: true, CheckedAt: now}, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fleet.Backend{Server: tinyscale.Server{ID: "a", State: tt.state}, Health: tt.health}
			if got := b.Placeable(); got != tt.placeable {
				t.Errorf("Placeable: got %v, want %v", got, tt.placeable)
			}
			if got := b.Routable(); got != tt.routable {
				t.Errorf("Routable: got %v, want %v", got, tt.routable)
			}
			if got := b.InFanOut(); got != tt.inFanOut {
				t.Errorf("InFanOut: got %v, want %v", got, tt.inFanOut)
			}
		})
	}
}

func TestFleet_ReloadAndHealth(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	put := func(s tinyscale.Server) {
		t.Helper()
		n, err := s.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutServer(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	put(tinyscale.Server{ID: "b", URL: "http://127.0.0.1:1", Secret: "sb"})
	put(tinyscale.Server{ID: "a", URL: "http://127.0.0.1:2", Secret: "sa"})
	f := fleet.New(st, fleet.Options{})
	if len(f.Backends()) != 0 {
		t.Fatalf("before Reload: got %d backends, want 0", len(f.Backends()))
	}
	if err := f.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	bs := f.Backends()
	if len(bs) != 2 || bs[0].ID != "a" || bs[1].ID != "b" {
		t.Fatalf("got %v, want a, b in ID order", ids(bs))
	}
	clientA := bs[0].Client

	t.Run("health_applies_at_once", func(t *testing.T) {
		f.UpdateHealth(tinyscale.Health{ServerID: "a", Up: false, CheckedAt: time.Now(), Fails: 2})
		a, _ := f.Backend("a")
		if a.Up() {
			t.Errorf("a is up after a down health record")
		}
		if a.Client != clientA {
			t.Errorf("a's client was rebuilt by a health update")
		}
	})

	t.Run("older_stored_health_does_not_win", func(t *testing.T) {
		old := tinyscale.Health{ServerID: "a", Up: true, CheckedAt: time.Now().Add(-time.Hour)}
		if err := st.PutHealth(ctx, old); err != nil {
			t.Fatal(err)
		}
		if err := f.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if a, _ := f.Backend("a"); a.Up() {
			t.Errorf("an older stored record overrode the newer local one")
		}
	})

	t.Run("secret_change_rebuilds_client", func(t *testing.T) {
		put(tinyscale.Server{ID: "a", URL: "http://127.0.0.1:2", Secret: "new"})
		if err := f.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		a, _ := f.Backend("a")
		if a.Client == clientA || a.Client.Secret != "new" {
			t.Errorf("client not rebuilt for the new secret")
		}
		b, _ := f.Backend("b")
		if b.Client != bs[1].Client {
			t.Errorf("unchanged server b got a new client")
		}
	})

	t.Run("removed_server_leaves", func(t *testing.T) {
		if err := st.DeleteServer(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if err := f.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.Backend("b"); ok || len(f.Backends()) != 1 {
			t.Errorf("b still in the fleet: %v", ids(f.Backends()))
		}
	})
}

func ids(bs []*fleet.Backend) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}
