package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// firstProbe probes destination d once and sets up from the answer: a
// destination is up from the start only if it answers.
func firstProbe(d RelayDestination, cfg *RelayConfig, up *atomic.Bool) {
	probe, err := relayProbe(d.Probe, cfg.ProbeTimeout)
	up.Store(err != nil || probe() == nil) // a probe the configuration refused keeps it up
}

// probeRelay probes destination d every cfg.ProbeInterval until quit and
// keeps up current: down after two failed probes in a row, up again after
// one that succeeds. Each change is logged.
func probeRelay(d RelayDestination, cfg *RelayConfig, up *atomic.Bool, quit <-chan struct{}, log *slog.Logger, source string) {
	probe, err := relayProbe(d.Probe, cfg.ProbeTimeout)
	if err != nil { // refused when the configuration was loaded; kept up
		log.Warn("relay destination probe ignored", "source", source, "destination", d.Addr, "err", err)
		return
	}
	t := time.NewTicker(cfg.ProbeInterval)
	defer t.Stop()
	failed := 0
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		switch err := probe(); {
		case err == nil:
			failed = 0
			if !up.Swap(true) {
				log.Info("relay destination up", "source", source, "destination", d.Addr)
			}
		case failed < 1:
			failed++
		default:
			if up.Swap(false) {
				log.Warn("relay destination down: its series go to the others", "source", source, "destination", d.Addr, "err", err)
			}
		}
	}
}

// relayProbe returns the probe of a "tcp://host:port" or
// "http://host:port/path" address.
func relayProbe(addr string, timeout time.Duration) (func() error, error) {
	switch {
	case strings.HasPrefix(addr, "tcp://"):
		hp := strings.TrimPrefix(addr, "tcp://")
		if _, _, err := net.SplitHostPort(hp); err != nil {
			return nil, fmt.Errorf("probe %q: %w", addr, err)
		}
		return func() error {
			c, err := net.DialTimeout("tcp", hp, timeout)
			if err != nil {
				return err
			}
			return c.Close()
		}, nil
	case strings.HasPrefix(addr, "http://"):
		client := &http.Client{Timeout: timeout}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, addr, nil)
		if err != nil {
			return nil, fmt.Errorf("probe %q: %w", addr, err)
		}
		return func() error {
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("%s answered %s", addr, resp.Status)
			}
			return nil
		}, nil
	}
	return nil, fmt.Errorf("probe %q: want tcp://host:port or http://host:port/path", addr)
}

// CheckRelayProbe reports whether a probe address is one a relay can use.
func CheckRelayProbe(addr string) error {
	_, err := relayProbe(addr, time.Second)
	return err
}
