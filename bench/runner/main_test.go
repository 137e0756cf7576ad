package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/loadgen"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, o options)
		wantErr string
	}{
		{"defaults", nil, func(t *testing.T, o options) {
			if o.servers != 50 || o.bigServers != 100 || o.bigMeetings != 10000 || o.duration != 6*time.Second ||
				o.concurrency != 64 || o.latency != 20*time.Millisecond || !o.hung || o.quick || o.rounds != 2 || o.joinRate != 2000 {
				t.Errorf("got %+v, want the full-run defaults", o)
			}
		}, ""},
		{"quick", []string{"--quick"}, func(t *testing.T, o options) {
			if o.servers != 10 || o.bigServers != 20 || o.bigMeetings != 1000 || o.duration != 2*time.Second || o.hung ||
				o.rounds != 1 || o.joinRate != 1000 {
				t.Errorf("got %+v, want the quick defaults", o)
			}
		}, ""},
		{"quick_with_overrides", []string{"--quick", "--servers", "5", "--duration", "1s"}, func(t *testing.T, o options) {
			if o.servers != 5 || o.duration != time.Second {
				t.Errorf("got servers %d duration %v, want 5 and 1s", o.servers, o.duration)
			}
		}, ""},
		{"env_and_skip_main", []string{"--env", "GOGC=50", "--env", "GODEBUG=gctrace=1", "--skip-main"}, func(t *testing.T, o options) {
			if got := strings.Join(o.env, " "); got != "GOGC=50 GODEBUG=gctrace=1" || !o.skipMain {
				t.Errorf("got env %q, skipMain %v; want both variables and true", got, o.skipMain)
			}
		}, ""},
		{"env_without_value", []string{"--env", "GOGC"}, nil, "KEY=VALUE"},
		{"one_server", []string{"--servers", "1"}, nil, "at least 2"},
		{"negative_latency", []string{"--latency", "-1ms"}, nil, "latency"},
		{"extra_argument", []string{"now"}, nil, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseOptions() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseOptions() error: %v", err)
			}
			tt.check(t, o)
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name             string
		in               string
		wantRSS, wantHWM int64
		wantErr          bool
	}{
		{"typical", "Name:\ttinyscale\nVmPeak:\t 1234 kB\nVmHWM:\t   15360 kB\nVmRSS:\t   12288 kB\nThreads:\t7\n", 12288 * 1024, 15360 * 1024, false},
		{"no_rss", "Name:\tx\n", 0, 0, true},
		{"bad_unit", "VmRSS:\t12 MB\n", 0, 0, true},
		{"bad_number", "VmRSS:\tmany kB\n", 0, 0, true},
		{"negative", "VmRSS:\t-5 kB\n", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rss, hwm, err := parseStatus(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatus() error = %v, want error %v", err, tt.wantErr)
			}
			if rss != tt.wantRSS || hwm != tt.wantHWM {
				t.Errorf("parseStatus() = %d, %d; want %d, %d", rss, hwm, tt.wantRSS, tt.wantHWM)
			}
		})
	}
}

func TestMemory_Self(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	rss, peak, err := memory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || peak < rss {
		t.Errorf("memory() = %d, %d; want 0 < rss <= peak", rss, peak)
	}
}

func TestMachineParsers(t *testing.T) {
	cpuinfo := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got, want := cpuModel(cpuinfo), "AMD EPYC 7B13"; got != want {
		t.Errorf("cpuModel() = %q, want %q", got, want)
	}
	if got, want := cpuModel("nothing"), "unknown"; got != want {
		t.Errorf("cpuModel() = %q, want %q", got, want)
	}
	if got, want := memTotal("MemTotal:       24683520 kB\nMemFree: 1 kB\n"), int64(24683520*1024); got != want {
		t.Errorf("memTotal() = %d, want %d", got, want)
	}
}

func TestFreePorts(t *testing.T) {
	ports, err := freePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Errorf("got ports %v, want 5 distinct positive ports", ports)
		}
		seen[p] = true
	}
}

// result builds a loadgen.Result with the given figures.
func result(conc int, rps float64, p50, p99 time.Duration, errs int64) *loadgen.Result {
	r := &loadgen.Result{Concurrency: conc, Throughput: rps, Requests: int64(rps * 8), Errors: errs, Elapsed: 8 * time.Second,
		Latency: loadgen.Summary{Count: int64(rps * 8), P50: p50, P95: p99, P99: p99, Max: 2 * p99}}
	if errs > 0 {
		r.ErrorKinds = map[string]int64{"http 502": errs}
	}
	return r
}

func passingReport() *report {
	ms := time.Millisecond
	return &report{
		Machine:     machine{CPUs: 2, CPUModel: "AMD EPYC", MemTotal: 24e9, Go: "go1.26.8", OS: "linux/amd64", Commit: "abc1234", Date: "2025-01-01 00:00 UTC", LoadAvg: "0.12 0.30 0.25"},
		Servers:     50,
		Latency:     "20ms",
		Concurrency: 64,
		GMConc:      4,
		Duration:    "8s",
		BigServers:  100,
		BigMeetings: 10000,
		JoinRate:    2000,
		Rows: []row{
			{Scenario: "join", Tinyscale: result(64, 16000, 4*ms, 12*ms, 0), Baseline: result(64, 20000, 3*ms, 9*ms, 0)},
			{Scenario: "join @ 2000/s", Tinyscale: result(64, 2000, ms, 3*ms, 0), Baseline: result(64, 2000, ms/2, 2*ms, 0)},
			{Scenario: "poll", Tinyscale: result(64, 2500, 21*ms, 30*ms, 0), Baseline: result(64, 20000, ms/2, 2*ms, 640)},
			{Scenario: "getMeetings", Tinyscale: result(4, 150, 25*ms, 40*ms, 0), Baseline: result(4, 9000, ms/4, ms, 72000)},
		},
		JoinsBefore: 0,
		JoinsAfter:  0,
		Dead:        &deadServer{Victim: "fake-007", MeetingsBefore: 100, VictimMeetings: 3, MeetingsAfter: 97, Result: result(4, 160, 24*ms, 38*ms, 0)},
		Memory:      memoryFigures{IdleMain: 12e6, PeakMain: 30e6, IdleBig: 14e6, PeakBig: 45e6, AfterBig: 40e6},
	}
}

func TestReport_Evaluate(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		mutate   func(r *report)
		wantMiss []string // target name prefixes expected to MISS
	}{
		{"all_pass", func(*report) {}, nil},
		{"slow_join", func(r *report) { r.Rows[0].Tinyscale = result(64, 12000, 2*ms, 6*ms, 0) }, []string{"join throughput"}},
		{"slow_paced_join", func(r *report) { r.Rows[1].Tinyscale = result(64, 2000, 2*ms, 6*ms, 0) }, []string{"join p99"}},
		{"join_errors", func(r *report) {
			r.Rows[0].Tinyscale = result(64, 16000, ms, 3*ms, 5)
			r.Rows[1].Tinyscale = result(64, 2000, ms, 3*ms, 5)
		}, []string{"join throughput", "join p99"}},
		{"join_called_backend", func(r *report) { r.JoinsAfter = 7 }, []string{"join: zero"}},
		{"slow_getmeetings", func(r *report) { r.Rows[3].Tinyscale = result(4, 50, 80*ms, 90*ms, 0) }, []string{"getMeetings p50"}},
		{"dead_server_hides_more", func(r *report) { r.Dead.MeetingsAfter = 90 }, []string{"one dead server"}},
		{"dead_server_slow", func(r *report) { r.Dead.Result = result(4, 1, 3*time.Second, 3*time.Second, 0) }, []string{"one dead server"}},
		{"fat_idle", func(r *report) { r.Memory.IdleBig = 21e6 }, []string{"RSS idle"}},
		{"fat_big", func(r *report) { r.Memory.PeakBig = 70e6 }, []string{"RSS ≤ 64 MB"}},
		{"nothing_measured", func(r *report) { *r = report{Servers: 50, Concurrency: 64} },
			[]string{"join throughput", "join p99", "join: zero", "getMeetings p50", "one dead server", "RSS idle", "RSS ≤ 64 MB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := passingReport()
			tt.mutate(r)
			targets := r.evaluate()
			if got, want := len(targets), 7; got != want {
				t.Fatalf("got %d targets, want %d", got, want)
			}
			var miss []string
			for _, tg := range targets {
				if !tg.Pass {
					miss = append(miss, tg.Name)
				}
			}
			if len(miss) != len(tt.wantMiss) {
				t.Fatalf("got misses %q, want %q", miss, tt.wantMiss)
			}
			for i := range miss {
				if !strings.HasPrefix(miss[i], tt.wantMiss[i]) {
					t.Errorf("miss %d: got %q, want prefix %q", i, miss[i], tt.wantMiss[i])
				}
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	r := passingReport()
	r.Rows = append(r.Rows, row{Scenario: "getMeetings, 1 hung", Tinyscale: result(4, 1.3, 3*time.Second, 3*time.Second, 0)})
	r.BigRows = []row{{Scenario: "poll", Tinyscale: result(64, 3000, 3*time.Millisecond, 9*time.Millisecond, 0)}}
	r.Targets = r.evaluate()
	var b bytes.Buffer
	if err := writeTable(&b, r); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "table.txt")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("table differs from %s (run with -update to accept):\ngot:\n%s\nwant:\n%s", path, b.Bytes(), want)
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add("VmHWM:\t 15360 kB\nVmRSS:\t 12288 kB\n")
	f.Add("VmRSS: 1 kB")
	f.Add("VmRSS:\t-5 kB\nVmHWM: x kB")
	f.Fuzz(func(t *testing.T, s string) {
		rss, peak, err := parseStatus(strings.NewReader(s))
		if err != nil {
			return
		}
		if rss <= 0 || peak < 0 {
			t.Fatalf("parseStatus(%q) = %d, %d without error, want positive", s, rss, peak)
		}
		_ = cpuModel(s)
		_ = memTotal(s)
	})
}
