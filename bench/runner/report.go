package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tinyscale/tinyscale/loadgen"
)

// Target thresholds (from the performance issue).
const (
	minJoinRatio      = 0.7
	maxJoinP99        = 5 * time.Millisecond
	maxGetMeetingsP50 = 60 * time.Millisecond
	maxIdleRSS        = 20_000_000 // bytes
	maxBigRSS         = 64_000_000 // bytes
)

// machine describes where the bench ran.
type machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	MemTotal int64  `json:"mem_total_bytes"`
	Go       string `json:"go"`
	OS       string `json:"os"`
	Commit   string `json:"commit,omitempty"`
	// LoadAvg is /proc/loadavg's 1, 5 and 15 minute averages at the start:
	// other work on the machine skews every figure.
	LoadAvg string `json:"loadavg,omitempty"`
	Date    string `json:"date"`
}

// row is one scenario measured through tinyscale and through the baseline.
type row struct {
	Scenario  string          `json:"scenario"`
	Tinyscale *loadgen.Result `json:"tinyscale"`
	Baseline  *loadgen.Result `json:"baseline,omitempty"`
}

// ratio is tinyscale's throughput over the baseline's, 0 if unknown.
func (r row) ratio() float64 {
	if r.Tinyscale == nil || r.Baseline == nil || r.Baseline.Throughput == 0 {
		return 0
	}
	return r.Tinyscale.Throughput / r.Baseline.Throughput
}

// deadServer is the outcome of the one-dead-server check.
type deadServer struct {
	Victim         string          `json:"victim"`
	MeetingsBefore int             `json:"meetings_before"`
	VictimMeetings int             `json:"victim_meetings"`
	MeetingsAfter  int             `json:"meetings_after"`
	Result         *loadgen.Result `json:"result"`
}

// memoryFigures are tinyscale's resident set sizes in bytes.
type memoryFigures struct {
	IdleMain int64 `json:"idle_main"` // main fleet, no meetings
	PeakMain int64 `json:"peak_main"` // VmHWM after all main-phase load
	IdleBig  int64 `json:"idle_big"`  // big fleet, no meetings
	PeakBig  int64 `json:"peak_big"`  // VmHWM after creating and loading the big meeting set
	AfterBig int64 `json:"after_big"` // VmRSS at the end of the big phase
}

// report is everything a bench run measured.
type report struct {
	Machine     machine       `json:"machine"`
	Quick       bool          `json:"quick"`
	Servers     int           `json:"servers"`
	Latency     string        `json:"latency"`
	Concurrency int           `json:"concurrency"`
	GMConc      int           `json:"getmeetings_concurrency"`
	Duration    string        `json:"duration"`
	BigServers  int           `json:"big_servers"`
	BigMeetings int           `json:"big_meetings"`
	BigSeeded   bool          `json:"big_seeded"`
	JoinRate    float64       `json:"join_rate"`
	Rows        []row         `json:"rows"`
	JoinsBefore int           `json:"backend_joins_before"`
	JoinsAfter  int           `json:"backend_joins_after"`
	Dead        *deadServer   `json:"dead_server,omitempty"`
	Memory      memoryFigures `json:"memory"`
	BigRows     []row         `json:"big_rows"`
	Targets     []target      `json:"targets"`
	Profile     string        `json:"profile,omitempty"`
}

// target is one checked goal.
type target struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}

func (r *report) find(rows []row, scenario string) *row {
	for i := range rows {
		if rows[i].Scenario == scenario {
			return &rows[i]
		}
	}
	return nil
}

// evaluate checks the targets against the figures. A target whose
// measurement is missing is a MISS with the reason.
func (r *report) evaluate() []target {
	var ts []target
	add := func(name string, pass bool, format string, args ...any) {
		ts = append(ts, target{Name: name, Pass: pass, Detail: fmt.Sprintf(format, args...)})
	}
	join := r.find(r.Rows, loadgen.ScenarioJoin)
	if join == nil || join.Tinyscale == nil || join.Baseline == nil {
		add("join throughput ≥ 0.7× baseline", false, "not measured")
	} else {
		t, b := join.Tinyscale, join.Baseline
		add("join throughput ≥ 0.7× baseline", join.ratio() >= minJoinRatio && t.Errors == 0,
			"%.2f× (%s vs %s)%s", join.ratio(), loadgen.FormatRate(t.Throughput), loadgen.FormatRate(b.Throughput), errNote(t))
	}
	// Latency is checked at a fixed rate: at saturation it is only the
	// queue of 64 connections (Little's law), for the baseline too.
	p99Name := fmt.Sprintf("join p99 ≤ 5 ms at %d connections, %.0f req/s", r.Concurrency, r.JoinRate)
	if paced := r.find(r.Rows, fmt.Sprintf("join @ %.0f/s", r.JoinRate)); paced == nil || paced.Tinyscale == nil {
		add(p99Name, false, "not measured")
	} else {
		t := paced.Tinyscale
		add(p99Name, t.Latency.P99 <= maxJoinP99 && t.Errors == 0, "p99 %s (p50 %s, max %s; baseline p99 %s)%s",
			loadgen.FormatDuration(t.Latency.P99), loadgen.FormatDuration(t.Latency.P50), loadgen.FormatDuration(t.Latency.Max),
			baselineP99(paced), errNote(t))
	}
	if join != nil && join.Tinyscale != nil {
		d := r.JoinsAfter - r.JoinsBefore
		add("join: zero backend round trips", d == 0, "servers counted %d join calls during tinyscale's join runs", d)
	} else {
		add("join: zero backend round trips", false, "not measured")
	}
	gmName := fmt.Sprintf("getMeetings p50 ≤ 60 ms (%d servers at %s)", r.Servers, r.Latency)
	if gm := r.find(r.Rows, loadgen.ScenarioGetMeetings); gm != nil && gm.Tinyscale != nil {
		t := gm.Tinyscale
		add(gmName, t.Latency.P50 <= maxGetMeetingsP50 && t.Errors == 0, "p50 %s (p99 %s, %d connections)%s",
			loadgen.FormatDuration(t.Latency.P50), loadgen.FormatDuration(t.Latency.P99), t.Concurrency, errNote(t))
	} else {
		add(gmName, false, "not measured")
	}
	if d := r.Dead; d != nil && d.Result != nil {
		want := d.MeetingsBefore - d.VictimMeetings
		pass := d.MeetingsAfter == want && d.Result.Errors == 0 && d.Result.Latency.P50 <= maxGetMeetingsP50
		add("one dead server: only its meetings missing", pass, "%d meetings listed, want %d (%d minus %d on %s); p50 %s%s",
			d.MeetingsAfter, want, d.MeetingsBefore, d.VictimMeetings, d.Victim, loadgen.FormatDuration(d.Result.Latency.P50), errNote(d.Result))
	} else {
		add("one dead server: only its meetings missing", false, "not measured")
	}
	idle := max(r.Memory.IdleMain, r.Memory.IdleBig)
	add("RSS idle ≤ 20 MB", idle > 0 && idle <= maxIdleRSS, "%s with %d servers, %s with %d servers",
		mb(r.Memory.IdleMain), r.Servers, mb(r.Memory.IdleBig), r.BigServers)
	add(fmt.Sprintf("RSS ≤ 64 MB with %d servers and %d meetings", r.BigServers, r.BigMeetings),
		r.Memory.PeakBig > 0 && r.Memory.PeakBig <= maxBigRSS, "peak %s (%s at the end)", mb(r.Memory.PeakBig), mb(r.Memory.AfterBig))
	return ts
}

func baselineP99(r *row) string {
	if r.Baseline == nil {
		return "n/a"
	}
	return loadgen.FormatDuration(r.Baseline.Latency.P99)
}

func errNote(r *loadgen.Result) string {
	if r.Errors == 0 {
		return ""
	}
	return fmt.Sprintf("; %d errors %v", r.Errors, r.ErrorKinds)
}

// mb prints bytes in megabytes (10^6 bytes).
func mb(n int64) string {
	if n <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// writeTable writes the human-readable report.
func writeTable(w io.Writer, r *report) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "machine   %d × %s, %.1f GB RAM, %s, %s", m.CPUs, m.CPUModel, float64(m.MemTotal)/1e9, m.OS, m.Go)
	if m.Commit != "" {
		fmt.Fprintf(&b, ", commit %s", m.Commit)
	}
	fmt.Fprintf(&b, ", %s\n", m.Date)
	if m.LoadAvg != "" {
		fmt.Fprintf(&b, "load      %s (load average before the run; anything well above 0 means other work shared the CPUs)\n", m.LoadAvg)
	}
	mode := ""
	if r.Quick {
		mode = " (quick mode: smaller fleet, short runs; figures are a smoke test)"
	}
	fmt.Fprintf(&b, "setup     %d fakebbb servers at %s latency, %d connections (getMeetings %d), %s per run%s\n\n",
		r.Servers, r.Latency, r.Concurrency, r.GMConc, r.Duration, mode)

	writeRows(&b, r.Rows)
	b.WriteString("(baseline: a bare Go server answering every request with the same 302, no backend call;\n" +
		" its answers are not BBB answers, so its errors are not counted. ratio = tinyscale req/s ÷ baseline req/s)\n")
	if d := r.Dead; d != nil && d.Result != nil {
		fmt.Fprintf(&b, "\nwith %s killed: getMeetings %s, p50 %s, p99 %s, %d meetings listed (before: %d, on %s: %d)\n",
			d.Victim, loadgen.FormatRate(d.Result.Throughput), loadgen.FormatDuration(d.Result.Latency.P50),
			loadgen.FormatDuration(d.Result.Latency.P99), d.MeetingsAfter, d.MeetingsBefore, d.Victim, d.VictimMeetings)
	}
	if len(r.BigRows) > 0 {
		how := "created through tinyscale"
		if r.BigSeeded {
			how = "created directly on the servers, learned by tinyscale"
		}
		fmt.Fprintf(&b, "\nwith %d servers and %d meetings (%s):\n", r.BigServers, r.BigMeetings, how)
		writeRows(&b, r.BigRows)
	}
	mem := r.Memory
	fmt.Fprintf(&b, "\ntinyscale RSS  idle %s (%d servers), peak under load %s; idle %s (%d servers), peak %s with %d meetings under load, %s at the end\n",
		mb(mem.IdleMain), r.Servers, mb(mem.PeakMain), mb(mem.IdleBig), r.BigServers, mb(mem.PeakBig), r.BigMeetings, mb(mem.AfterBig))

	b.WriteString("\ntargets\n")
	for _, t := range r.Targets {
		status := "MISS"
		if t.Pass {
			status = "PASS"
		}
		fmt.Fprintf(&b, "  %s  %-52s %s\n", status, t.Name, t.Detail)
	}
	if r.Profile != "" {
		b.WriteString("\n" + r.Profile)
		if !strings.HasSuffix(r.Profile, "\n") {
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeRows writes the scenario table.
func writeRows(b *strings.Builder, rows []row) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tconns\ttinyscale req/s\tp50\tp99\terrors\tbaseline req/s\tp99\tratio\t")
	for _, r := range rows {
		t := r.Tinyscale
		if t == nil {
			fmt.Fprintf(tw, "%s\t\tnot measured\t\t\t\t\t\t\t\n", r.Scenario)
			continue
		}
		base, bp99, ratio := "-", "-", "-"
		if r.Baseline != nil {
			base = fmt.Sprintf("%.0f", r.Baseline.Throughput)
			bp99 = loadgen.FormatDuration(r.Baseline.Latency.P99)
			ratio = fmt.Sprintf("%.2f×", r.ratio())
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%d\t%s\t%s\t%s\t\n", r.Scenario, t.Concurrency, t.Throughput,
			loadgen.FormatDuration(t.Latency.P50), loadgen.FormatDuration(t.Latency.P99), t.Errors, base, bp99, ratio)
	}
	_ = tw.Flush()
}
