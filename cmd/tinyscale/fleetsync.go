package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/poller"
)

// declaredServers returns the servers from Main.Servers or servers.json;
// nil with no error when servers are managed through the admin API only.
func (m *Main) declaredServers() ([]tinyscale.Server, bool, error) {
	if m.Servers != nil {
		out := make([]tinyscale.Server, 0, len(m.Servers))
		for i, s := range m.Servers {
			ns, err := s.Normalize()
			if err != nil {
				return nil, false, fmt.Errorf("server %d: %w", i+1, err)
			}
			ns.Source = tinyscale.SourceFile
			out = append(out, ns)
		}
		return out, true, nil
	}
	if m.Config.ServersFile == "" {
		return nil, false, nil
	}
	servers, err := LoadServers(m.Config.ServersFile)
	return servers, true, err
}

// syncServers merges the declared servers into the store and applies the
// result to the fleet. The file decides host, secret, weight, tags and
// algorithm; the admin state set through the API survives (a state in the
// file is the initial state only). Servers that came from the file and are
// no longer listed are removed; servers added through the API stay.
//
// Before anything is written, servers are probed with one signed call:
// every server at start-up, and on a reload those whose host, secret or
// algorithm is new or changed. A server that rejects tinyscale's checksum
// or does not speak the BBB API (with Config.Strict, any failed probe)
// makes syncServers return an error naming it, with the store untouched,
// so that a mistyped secret never reaches the running fleet (nor, with a
// shared store, the other instances). A server that is merely unreachable
// is written and marked down, and a warning is logged.
func (m *Main) syncServers(ctx context.Context, startup bool) error {
	declared, ok, err := m.declaredServers()
	if err != nil {
		return err
	}
	current, err := m.Store.Servers(ctx)
	if err != nil {
		return fmt.Errorf("read servers from the store: %w", err)
	}
	byID := make(map[string]tinyscale.Server, len(current))
	for _, s := range current {
		byID[s.ID] = s
	}
	keep := make(map[string]bool, len(declared))
	var puts, probe []tinyscale.Server
	for _, s := range declared {
		keep[s.ID] = true
		old, exists := byID[s.ID]
		if exists && old.State != "" {
			s.State = old.State
		}
		puts = append(puts, s)
		if startup || !exists || old.URL != s.URL || old.Secret != s.Secret || old.Algorithm != s.Algorithm {
			probe = append(probe, s)
		}
	}
	var removes []tinyscale.Server
	stays := map[string]tinyscale.Server{} // by URL: servers the file does not list that stay
	for _, s := range current {
		switch {
		case keep[s.ID]:
		case ok && s.Source != tinyscale.SourceAPI:
			removes = append(removes, s)
		default:
			stays[s.URL] = s
			if startup {
				probe = append(probe, s) // added through the API, or no file
			}
		}
	}
	for _, s := range declared {
		if o, dup := stays[s.URL]; dup {
			return fmt.Errorf("%s: server %s: host %s is already server %s, added through the admin API (remove one of them)",
				m.serverSource(s), s.ID, s.URL, o.ID)
		}
	}

	down, err := m.probeServers(ctx, probe)
	if err != nil {
		return err
	}
	for _, s := range puts {
		if err := m.Store.PutServer(ctx, s); err != nil {
			return fmt.Errorf("store server %s: %w", s.ID, err)
		}
	}
	for _, s := range removes {
		if err := m.Store.DeleteServer(ctx, s.ID); err != nil && !errors.Is(err, tinyscale.ErrNotFound) {
			return fmt.Errorf("remove server %s: %w", s.ID, err)
		}
		attrs := []any{"server", s.ID}
		if b, ok := m.Fleet.Backend(s.ID); ok && b.Health.Meetings > 0 {
			m.Logger.Warn("server removed: no longer in servers.json; its meetings are forgotten", append(attrs, "meetings", b.Health.Meetings)...)
		} else {
			m.Logger.Info("server removed: no longer in servers.json", attrs...)
		}
	}
	if len(down) > 0 {
		if err := m.Store.PutHealth(ctx, down...); err != nil {
			return fmt.Errorf("store health: %w", err)
		}
	}
	if err := m.Fleet.Reload(ctx); err != nil {
		return fmt.Errorf("load servers from the store: %w", err)
	}
	if len(down) > 0 {
		m.Fleet.UpdateHealth(down...)
	}
	return nil
}

// ReloadServers re-reads servers.json (SIGHUP), probes new and changed
// servers, applies the file (see syncServers; on error nothing changes)
// and syncs webhooks to the servers.
func (m *Main) ReloadServers(ctx context.Context) error {
	if err := m.syncServers(ctx, false); err != nil {
		return err
	}
	m.syncHooks(ctx)
	return nil
}

// probeServers makes one signed call to each server, in parallel. It
// returns an error naming the first server (in the order given) that
// rejects tinyscale's checksum or does not speak the BBB API, or, with
// Config.Strict, fails its probe at all; otherwise the health records
// that mark the unreachable servers down, each logged as a warning.
func (m *Main) probeServers(ctx context.Context, servers []tinyscale.Server) ([]tinyscale.Health, error) {
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		b := &fleet.Backend{Server: s, Client: &bbb.Client{
			BaseURL: s.URL, Secret: s.Secret, Algorithm: s.Algorithm, HTTP: m.Fleet.HTTPClient(),
		}}
		b.Health.ServerID = s.ID
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, m.Config.PollTimeout+2*time.Second)
			defer cancel()
			errs[i] = poller.Probe(pctx, b)
		})
	}
	wg.Wait()
	var down []tinyscale.Health
	now := time.Now()
	for i, err := range errs {
		s := servers[i]
		if err == nil {
			continue
		}
		if m.Config.Strict || errors.Is(err, poller.ErrBadSecret) || errors.Is(err, poller.ErrNotBBB) {
			return nil, fmt.Errorf("%s: server %s (%s): %w", m.serverSource(s), s.ID, s.URL, err)
		}
		m.Logger.Warn("server unreachable: marked down, will be re-probed", "server", s.ID, "err", err)
		down = append(down, tinyscale.Health{ServerID: s.ID, Up: false, LastError: err.Error(), CheckedAt: now, Fails: m.Config.DownAfter})
	}
	return down, nil
}

// serverSource names where a server's configuration comes from, for
// error messages.
func (m *Main) serverSource(s tinyscale.Server) string {
	switch {
	case s.Source == tinyscale.SourceAPI:
		return "server added through the admin API"
	case m.Servers == nil && m.Config.ServersFile != "":
		return m.Config.ServersFile
	}
	return "servers"
}

// syncHooks makes sure every registered webhook exists on every server.
func (m *Main) syncHooks(ctx context.Context) {
	if m.Gateway == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := m.Gateway.SyncHooks(ctx); err != nil && ctx.Err() == nil {
		m.Logger.Warn("webhook sync incomplete", "err", err)
	}
}

// syncHooksLoop re-syncs webhooks every minute, so servers that come back
// or are added on another instance get them too.
func (m *Main) syncHooksLoop(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.syncHooks(ctx)
		}
	}
}
