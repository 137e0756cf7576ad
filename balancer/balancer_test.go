package balancer_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/balancer"
)

// cand builds a candidate with the given load inputs.
func cand(id string, participants, meetings, young int, weight float64, tags ...string) balancer.Candidate {
	return balancer.Candidate{
		Server: tinyscale.Server{ID: id, Weight: weight, Tags: tags},
		Health: tinyscale.Health{ServerID: id, Up: true, Participants: participants, Meetings: meetings},
		Young:  young,
	}
}

func ids(cs []balancer.Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Server.ID
	}
	return out
}

func TestLeastLoaded_Load(t *testing.T) {
	tests := []struct {
		name   string
		policy balancer.LeastLoaded
		c      balancer.Candidate
		want   float64
	}{
		{"empty", balancer.LeastLoaded{}, cand("a", 0, 0, 0, 1), 0},
		{"participants_only", balancer.LeastLoaded{}, cand("a", 10, 0, 0, 1), 10},
		{"meetings_default_cost", balancer.LeastLoaded{}, cand("a", 10, 3, 0, 1), 13},
		{"young_default_size", balancer.LeastLoaded{}, cand("a", 0, 0, 2, 1), 12},
		{"all_terms", balancer.LeastLoaded{}, cand("a", 20, 4, 1, 1), 30},
		{"weight_two_halves", balancer.LeastLoaded{}, cand("a", 20, 4, 1, 2), 15},
		{"weight_zero_is_one", balancer.LeastLoaded{}, cand("a", 20, 4, 1, 0), 30},
		{"weight_negative_is_one", balancer.LeastLoaded{}, cand("a", 20, 4, 1, -3), 30},
		{"weight_fraction", balancer.LeastLoaded{}, cand("a", 10, 0, 0, 0.5), 20},
		{"custom_cost", balancer.LeastLoaded{MeetingCost: 3, MinMeetingSize: 10}, cand("a", 5, 2, 1, 1), 5 + 6 + 13},
		{"negative_params_default", balancer.LeastLoaded{MeetingCost: -1, MinMeetingSize: -1}, cand("a", 5, 2, 1, 1), 5 + 2 + 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Load(tt.c); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Load = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLeastLoaded_Pick(t *testing.T) {
	tests := []struct {
		name  string
		cands []balancer.Candidate
		want  string
	}{
		{"single", []balancer.Candidate{cand("a", 100, 10, 0, 1)}, "a"},
		{"fewest_participants", []balancer.Candidate{cand("a", 30, 1, 0, 1), cand("b", 10, 1, 0, 1), cand("c", 20, 1, 0, 1)}, "b"},
		{"meetings_count", []balancer.Candidate{cand("a", 10, 5, 0, 1), cand("b", 10, 1, 0, 1)}, "b"},
		{"young_counts", []balancer.Candidate{cand("a", 0, 0, 1, 1), cand("b", 5, 0, 0, 1)}, "b"},
		{"weight_prefers_big", []balancer.Candidate{cand("a", 10, 0, 0, 1), cand("b", 15, 0, 0, 2)}, "b"},
		{"weight_not_enough", []balancer.Candidate{cand("a", 10, 0, 0, 1), cand("b", 25, 0, 0, 2)}, "a"},
		{"tie_smallest_id", []balancer.Candidate{cand("c", 5, 1, 0, 1), cand("a", 5, 1, 0, 1), cand("b", 5, 1, 0, 1)}, "a"},
		{"tie_weighted", []balancer.Candidate{cand("b", 10, 0, 0, 1), cand("a", 20, 0, 0, 2)}, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p balancer.LeastLoaded
			i, err := p.Pick(tt.cands)
			if err != nil {
				t.Fatalf("Pick: %v", err)
			}
			if got := tt.cands[i].Server.ID; got != tt.want {
				t.Errorf("Pick = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPolicy_Empty(t *testing.T) {
	for _, name := range balancer.Names() {
		t.Run(name, func(t *testing.T) {
			p, err := balancer.New(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Pick(nil); !errors.Is(err, tinyscale.ErrNoServer) {
				t.Errorf("Pick(nil) error = %v, want ErrNoServer", err)
			}
		})
	}
}

// place simulates n successive creates between two polls: every pick is
// charged to the chosen server's Young, as the gateway does by counting
// the store's young meetings. It returns the placements per server ID.
func place(t *testing.T, p balancer.Policy, cands []balancer.Candidate, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		i, err := p.Pick(cands)
		if err != nil {
			t.Fatalf("Pick: %v", err)
		}
		cands[i].Young++
		got[cands[i].Server.ID]++
	}
	return got
}

func TestLeastLoaded_Burst(t *testing.T) {
	t.Run("busy_server_avoided", func(t *testing.T) {
		cands := []balancer.Candidate{
			cand("a-busy", 200, 4, 0, 1),
			cand("b", 0, 0, 0, 1),
			cand("c", 0, 0, 0, 1),
		}
		got := place(t, &balancer.LeastLoaded{}, cands, 30)
		if got["a-busy"] != 0 {
			t.Errorf("busy server got %d of 30 placements, want 0", got["a-busy"])
		}
		if got["b"] != 15 || got["c"] != 15 {
			t.Errorf("placements b=%d c=%d, want 15 and 15", got["b"], got["c"])
		}
	})
	t.Run("busy_server_avoided_by_single_empty", func(t *testing.T) {
		cands := []balancer.Candidate{cand("a-busy", 200, 0, 0, 1), cand("b", 0, 0, 0, 1)}
		got := place(t, &balancer.LeastLoaded{}, cands, 30)
		if got["a-busy"] != 0 {
			t.Errorf("busy server got %d of 30 placements, want 0", got["a-busy"])
		}
	})
	t.Run("spread_300_over_10", func(t *testing.T) {
		cands := make([]balancer.Candidate, 10)
		for i := range cands {
			cands[i] = cand(fmt.Sprintf("s%02d", i), 0, 0, 0, 1)
		}
		got := place(t, &balancer.LeastLoaded{}, cands, 300)
		lo, hi := math.MaxInt, 0
		for _, c := range cands {
			n := got[c.Server.ID]
			lo, hi = min(lo, n), max(hi, n)
		}
		if float64(hi) > 1.5*float64(lo) {
			t.Errorf("placements min %d max %d, want max <= 1.5*min", lo, hi)
		}
	})
	t.Run("spread_uneven_start", func(t *testing.T) {
		cands := make([]balancer.Candidate, 10)
		for i := range cands {
			cands[i] = cand(fmt.Sprintf("s%02d", i), 3*i, i%3, 0, 1)
		}
		got := place(t, &balancer.LeastLoaded{}, cands, 300)
		lo, hi := math.MaxInt, 0
		for _, c := range cands {
			n := got[c.Server.ID]
			lo, hi = min(lo, n), max(hi, n)
		}
		if float64(hi) > 1.5*float64(lo) {
			t.Errorf("placements min %d max %d, want max <= 1.5*min", lo, hi)
		}
	})
	t.Run("weights_scale_share", func(t *testing.T) {
		cands := []balancer.Candidate{cand("a", 0, 0, 0, 1), cand("b", 0, 0, 0, 3)}
		got := place(t, &balancer.LeastLoaded{}, cands, 400)
		if got["a"] != 100 || got["b"] != 300 {
			t.Errorf("placements a=%d b=%d, want 100 and 300", got["a"], got["b"])
		}
	})
}

func TestRoundRobin_Pick(t *testing.T) {
	t.Run("cycles_in_id_order", func(t *testing.T) {
		// Deliberately not sorted: the cycle follows IDs, not positions.
		cands := []balancer.Candidate{cand("c", 0, 0, 0, 1), cand("a", 99, 0, 0, 1), cand("b", 0, 0, 0, 1)}
		var rr balancer.RoundRobin
		var got []string
		for range 7 {
			i, err := rr.Pick(cands)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, cands[i].Server.ID)
		}
		if want := []string{"a", "b", "c", "a", "b", "c", "a"}; !slices.Equal(got, want) {
			t.Errorf("picks = %v, want %v", got, want)
		}
	})
	t.Run("set_changes", func(t *testing.T) {
		var rr balancer.RoundRobin
		pick := func(cs ...balancer.Candidate) string {
			i, err := rr.Pick(cs)
			if err != nil {
				t.Fatal(err)
			}
			return cs[i].Server.ID
		}
		a, b, c, d := cand("a", 0, 0, 0, 1), cand("b", 0, 0, 0, 1), cand("c", 0, 0, 0, 1), cand("d", 0, 0, 0, 1)
		var got []string
		got = append(got, pick(a, b, c)) // a
		got = append(got, pick(a, c))    // b left: next after a is c
		got = append(got, pick(a, b, d)) // c left: next after c is d
		got = append(got, pick(a, b, d)) // wraps to a
		if want := []string{"a", "c", "d", "a"}; !slices.Equal(got, want) {
			t.Errorf("picks = %v, want %v", got, want)
		}
	})
	t.Run("concurrent_even", func(t *testing.T) {
		cands := []balancer.Candidate{cand("a", 0, 0, 0, 1), cand("b", 0, 0, 0, 1), cand("c", 0, 0, 0, 1), cand("d", 0, 0, 0, 1)}
		var rr balancer.RoundRobin
		var mu sync.Mutex
		counts := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 100 {
					i, err := rr.Pick(cands)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					counts[cands[i].Server.ID]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, c := range cands {
			if got := counts[c.Server.ID]; got != 200 {
				t.Errorf("server %s picked %d times, want 200", c.Server.ID, got)
			}
		}
	})
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // type name
		wantErr bool
	}{
		{"default_empty", "", "*balancer.LeastLoaded", false},
		{"least_load", "least-load", "*balancer.LeastLoaded", false},
		{"round_robin", "round-robin", "*balancer.RoundRobin", false},
		{"spaces", " round-robin ", "*balancer.RoundRobin", false},
		{"unknown", "random", "", true},
		{"case_sensitive", "Least-Load", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := balancer.New(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("New(%q) = %T, want error", tt.in, p)
				}
				for _, n := range balancer.Names() {
					if !strings.Contains(err.Error(), n) {
						t.Errorf("error %q does not name valid policy %q", err, n)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tt.in, err)
			}
			if got := fmt.Sprintf("%T", p); got != tt.want {
				t.Errorf("New(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseTag(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantTag  string
		wantReq  bool
		wantNone bool
	}{
		{"empty", "", "", false, true},
		{"plain", "gpu", "gpu", false, false},
		{"required", "gpu!", "gpu", true, false},
		{"spaces", "  gpu  ", "gpu", false, false},
		{"spaces_required", " gpu! ", "gpu", true, false},
		{"bang_only", "!", "", false, true},
		{"double_bang", "gpu!!", "gpu!", true, false},
		{"inner_bang", "a!b", "a!b", false, false},
		{"case_kept", "GPU", "GPU", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag, req := balancer.ParseTag(tt.in)
			if tag != tt.wantTag || req != tt.wantReq {
				t.Errorf("ParseTag(%q) = (%q, %v), want (%q, %v)", tt.in, tag, req, tt.wantTag, tt.wantReq)
			}
		})
	}
}

func FuzzParseTag(f *testing.F) {
	for _, s := range []string{"", "x", "x!", "!", " x ! ", "a!b!", "\x00!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tag, req := balancer.ParseTag(v)
		if tag == "" && req {
			t.Errorf("ParseTag(%q) = empty required tag", v)
		}
		if tag != strings.TrimSpace(tag) {
			t.Errorf("ParseTag(%q) tag %q has surrounding space", v, tag)
		}
		if req && !strings.HasSuffix(strings.TrimSpace(v), "!") {
			t.Errorf("ParseTag(%q) required without trailing '!'", v)
		}
		if tag != "" && !strings.Contains(v, tag) {
			t.Errorf("ParseTag(%q) tag %q not in input", v, tag)
		}
	})
}

func TestByTag(t *testing.T) {
	var (
		untagged1 = cand("u1", 0, 0, 0, 1)
		untagged2 = cand("u2", 0, 0, 0, 1)
		gpu       = cand("gpu1", 0, 0, 0, 1, "gpu")
		gpuEU     = cand("gpu-eu", 0, 0, 0, 1, "eu", "gpu")
		eu        = cand("eu1", 0, 0, 0, 1, "eu")
	)
	mixed := []balancer.Candidate{untagged1, gpu, eu, untagged2, gpuEU}
	allTagged := []balancer.Candidate{gpu, eu, gpuEU}
	tests := []struct {
		name       string
		cands      []balancer.Candidate
		tag        string
		required   bool
		defaultTag string
		want       []string
		wantErr    error
	}{
		{"optional_tag_matches", mixed, "gpu", false, "", []string{"gpu1", "gpu-eu"}, nil},
		{"optional_tag_multi_tag_server", mixed, "eu", false, "", []string{"eu1", "gpu-eu"}, nil},
		{"optional_tag_falls_back_untagged", mixed, "video", false, "", []string{"u1", "u2"}, nil},
		{"optional_tag_no_tagged_no_untagged", allTagged, "video", false, "", nil, tinyscale.ErrNoServer},
		{"required_tag_matches", mixed, "gpu", true, "", []string{"gpu1", "gpu-eu"}, nil},
		{"required_tag_missing", mixed, "video", true, "", nil, tinyscale.ErrTagUnavailable},
		{"required_tag_no_candidates", nil, "gpu", true, "", nil, tinyscale.ErrTagUnavailable},
		{"required_tag_ignores_default", mixed, "video", true, "gpu", nil, tinyscale.ErrTagUnavailable},
		{"tag_overrides_default", mixed, "eu", false, "gpu", []string{"eu1", "gpu-eu"}, nil},
		{"tag_case_sensitive", mixed, "GPU", true, "", nil, tinyscale.ErrTagUnavailable},
		{"no_tag_untagged_only", mixed, "", false, "", []string{"u1", "u2"}, nil},
		{"no_tag_all_tagged_any", allTagged, "", false, "", []string{"gpu1", "eu1", "gpu-eu"}, nil},
		{"no_tag_no_candidates", nil, "", false, "", nil, tinyscale.ErrNoServer},
		{"no_tag_default_matches", mixed, "", false, "eu", []string{"eu1", "gpu-eu"}, nil},
		{"no_tag_default_all_tagged", allTagged, "", false, "gpu", []string{"gpu1", "gpu-eu"}, nil},
		{"no_tag_default_falls_back_untagged", mixed, "", false, "video", []string{"u1", "u2"}, nil},
		{"no_tag_default_nothing", allTagged, "", false, "video", nil, tinyscale.ErrNoServer},
		{"no_tag_required_flag_ignored", mixed, "", true, "", []string{"u1", "u2"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ids(tt.cands)
			got, err := balancer.ByTag(tt.cands, tt.tag, tt.required, tt.defaultTag)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ByTag error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ByTag: %v", err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("ByTag = %v, want %v", ids(got), tt.want)
			}
			if after := ids(tt.cands); !slices.Equal(after, before) {
				t.Errorf("cands modified: %v, was %v", after, before)
			}
		})
	}
}

func BenchmarkLeastLoaded_Pick(b *testing.B) {
	cands := make([]balancer.Candidate, 1000)
	for i := range cands {
		cands[i] = cand(fmt.Sprintf("bbb%04d", i), (i*37)%400, (i*11)%40, i%3, float64(1+i%2))
	}
	p := &balancer.LeastLoaded{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Pick(cands); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRoundRobin_Pick(b *testing.B) {
	cands := make([]balancer.Candidate, 1000)
	for i := range cands {
		cands[i] = cand(fmt.Sprintf("bbb%04d", i), 0, 0, 0, 1)
	}
	var p balancer.RoundRobin
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Pick(cands); err != nil {
			b.Fatal(err)
		}
	}
}
