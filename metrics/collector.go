package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/fleet"
)

// fleetCollector exports per-server gauges read from the fleet snapshot at
// scrape time, so they are never stale and need no updating.
type fleetCollector struct {
	fleet *fleet.Fleet
	load  func(*fleet.Backend) float64

	up, state, meetings, participants, loadDesc *prometheus.Desc
}

// serverStates are the values of the state label of tinyscale_server_state.
var serverStates = []tinyscale.ServerState{tinyscale.StateEnabled, tinyscale.StateCordoned, tinyscale.StateDisabled}

// NewFleetCollector returns a collector exporting, for every server of f
// (label server = the server ID):
//
//   - tinyscale_server_up: 1 if the server is up, else 0
//   - tinyscale_server_state: 1 for the server's admin state label
//     (enabled, cordoned, disabled), 0 for the others
//   - tinyscale_server_meetings and tinyscale_server_participants: the
//     counts from the last good poll
//   - tinyscale_server_load: load(b), the figure placement uses (0 if
//     load is nil)
//
// Register it with the same registry as New's metrics.
func NewFleetCollector(f *fleet.Fleet, load func(*fleet.Backend) float64) prometheus.Collector {
	server := []string{"server"}
	return &fleetCollector{
		fleet: f,
		load:  load,
		up: prometheus.NewDesc("tinyscale_server_up",
			"Whether the BBB server is up (1) or down (0), after poll hysteresis.", server, nil),
		state: prometheus.NewDesc("tinyscale_server_state",
			"Admin state of the BBB server: 1 for the current state label (enabled, cordoned, disabled), 0 for the others.",
			[]string{"server", "state"}, nil),
		meetings: prometheus.NewDesc("tinyscale_server_meetings",
			"Meetings on the BBB server at its last good poll.", server, nil),
		participants: prometheus.NewDesc("tinyscale_server_participants",
			"Participants on the BBB server at its last good poll.", server, nil),
		loadDesc: prometheus.NewDesc("tinyscale_server_load",
			"Load figure of the BBB server used for placement (higher is busier).", server, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.state
	ch <- c.meetings
	ch <- c.participants
	ch <- c.loadDesc
}

// Collect implements prometheus.Collector.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	if c.fleet == nil {
		return
	}
	for _, b := range c.fleet.Backends() {
		up := 0.0
		if b.Up() {
			up = 1
		}
		c.gauge(ch, c.up, up, b.ID)
		for _, s := range serverStates {
			v := 0.0
			if b.State == s {
				v = 1
			}
			c.gauge(ch, c.state, v, b.ID, string(s))
		}
		c.gauge(ch, c.meetings, float64(b.Health.Meetings), b.ID)
		c.gauge(ch, c.participants, float64(b.Health.Participants), b.ID)
		load := 0.0
		if c.load != nil {
			load = c.load(b)
		}
		c.gauge(ch, c.loadDesc, load, b.ID)
	}
}

// gauge sends one gauge sample; a label mismatch (a programming error) is
// reported to the registry as an invalid metric instead of panicking.
func (c *fleetCollector) gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}
