package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// profileResult is a CPU profile fetched from tinyscale, or why not.
type profileResult struct {
	data []byte
	err  error
}

// fetchProfile asks tinyscale's pprof endpoint (on addr, when tinyscale
// serves one) for a CPU profile covering most of a run of length d.
func fetchProfile(ctx context.Context, addr string, d time.Duration) ([]byte, error) {
	if addr == "" {
		return nil, fmt.Errorf("no pprof address")
	}
	secs := max(1, int(d.Seconds())-1)
	return httpDo(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), d+30*time.Second)
}

// profileReport saves the profile and returns pprof's top functions. If
// tinyscale served no profile, it profiles the gateway's join benchmark
// instead (after the measured run, so as not to disturb it).
func (b *bench) profileReport(ctx context.Context, p profileResult) string {
	out, err := filepath.Abs(b.opt.out)
	if err != nil {
		return "profile: " + err.Error()
	}
	path := filepath.Join(out, "join.cpu.prof")
	binary := b.binPath("tinyscale")
	what := "CPU profile of tinyscale serve during the join run"
	if p.err != nil || len(p.data) == 0 {
		b.logf("tinyscale served no CPU profile (%v); profiling gateway BenchmarkJoin_KnownMeeting instead", p.err)
		binary = filepath.Join(out, "gateway.test")
		what = "CPU profile of gateway BenchmarkJoin_KnownMeeting (handler only, no HTTP server)"
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^BenchmarkJoin_KnownMeeting$",
			"-benchtime", "3s", "-cpuprofile", path, "-o", binary, "./gateway")
		cmd.Dir = b.opt.repo
		res, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Sprintf("profile: go test -bench failed: %v\n%s", err, res)
		}
		if l := benchLine(string(res)); l != "" {
			what += "\n" + l
		}
	} else if err := os.WriteFile(path, p.data, 0o644); err != nil {
		return "profile: " + err.Error()
	}
	cmd := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", binary, path)
	res, err := cmd.Output()
	if err != nil {
		return fmt.Sprintf("profile: go tool pprof: %v", err)
	}
	txt := filepath.Join(out, "join.cpu.txt")
	_ = os.WriteFile(txt, res, 0o644)
	return fmt.Sprintf("%s\nsaved as %s; inspect with: go tool pprof %s %s\n%s", what, path, binary, path, strings.TrimRight(string(res), "\n"))
}

// profiled runs fn (one measured run) and, with --profile, fetches a CPU
// profile of tinyscale (its pprof listener on addr) covering the run,
// saved as name in the output directory.
func (b *bench) profiled(ctx context.Context, addr, name string, fn func() error) error {
	if !b.opt.profile || addr == "" {
		return fn()
	}
	prof := make(chan profileResult, 1)
	go func() {
		data, err := fetchProfile(ctx, addr, b.opt.duration)
		prof <- profileResult{data, err}
	}()
	err := fn()
	b.saveProfile(<-prof, name)
	return err
}

// saveProfile writes a profile fetched from tinyscale to name in the
// output directory, or logs why there is none.
func (b *bench) saveProfile(p profileResult, name string) {
	if p.err != nil || len(p.data) == 0 {
		b.logf("no profile %s: %v", name, p.err)
		return
	}
	path := filepath.Join(b.opt.out, name)
	if err := os.WriteFile(path, p.data, 0o644); err != nil {
		b.logf("save profile: %v", err)
		return
	}
	b.logf("saved %s (go tool pprof %s %s)", path, b.binPath("tinyscale"), path)
}

// benchLine returns the result line of a go test -bench output.
func benchLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
