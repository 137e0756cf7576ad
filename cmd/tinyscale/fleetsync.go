package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tinyscale/tinyscale"
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

// syncServers merges the declared servers into the store. The file decides
// host, secret, weight, tags and algorithm; the admin state set through
// the API survives (a state in the file is the initial state only).
// Servers that came from the file and are no longer listed are removed;
// servers added through the API stay.
func (m *Main) syncServers(ctx context.Context) error {
	declared, ok, err := m.declaredServers()
	if err != nil || !ok {
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
	for _, s := range declared {
		keep[s.ID] = true
		if old, ok := byID[s.ID]; ok && old.State != "" {
			s.State = old.State
		}
		if err := m.Store.PutServer(ctx, s); err != nil {
			return fmt.Errorf("store server %s: %w", s.ID, err)
		}
	}
	for _, s := range current {
		if !keep[s.ID] && s.Source != tinyscale.SourceAPI {
			if err := m.Store.DeleteServer(ctx, s.ID); err != nil && !errors.Is(err, tinyscale.ErrNotFound) {
				return fmt.Errorf("remove server %s: %w", s.ID, err)
			}
			m.Logger.Info("server removed: no longer in servers.json", "server", s.ID)
		}
	}
	return nil
}

// ReloadServers re-reads servers.json (SIGHUP), applies it, probes new
// servers and syncs webhooks to them.
func (m *Main) ReloadServers(ctx context.Context) error {
	if err := m.syncServers(ctx); err != nil {
		return err
	}
	if err := m.Fleet.Reload(ctx); err != nil {
		return err
	}
	m.syncHooks(ctx)
	return nil
}

// probeAll makes one signed call to every server. A server that rejects
// tinyscale's checksum or does not speak the BBB API aborts start-up; one
// that is merely unreachable starts marked down (any failure aborts with
// Config.Strict).
func (m *Main) probeAll(ctx context.Context) error {
	backends := m.Fleet.Backends()
	errs := make([]error, len(backends))
	var wg sync.WaitGroup
	for i, b := range backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, m.Config.PollTimeout+2*time.Second)
			defer cancel()
			errs[i] = poller.Probe(pctx, b)
		}()
	}
	wg.Wait()
	var down []tinyscale.Health
	now := time.Now()
	for i, err := range errs {
		b := backends[i]
		if err == nil {
			continue
		}
		if m.Config.Strict || errors.Is(err, poller.ErrBadSecret) || errors.Is(err, poller.ErrNotBBB) {
			return fmt.Errorf("server %s (%s): %w", b.ID, b.URL, err)
		}
		m.Logger.Warn("server unreachable at start-up: marked down, will be re-probed", "server", b.ID, "err", err)
		down = append(down, tinyscale.Health{ServerID: b.ID, Up: false, LastError: err.Error(), CheckedAt: now, Fails: m.Config.DownAfter})
	}
	if len(down) > 0 {
		if err := m.Store.PutHealth(ctx, down...); err != nil {
			return fmt.Errorf("store health: %w", err)
		}
		m.Fleet.UpdateHealth(down...)
	}
	return nil
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
