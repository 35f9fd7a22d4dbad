//go:build linux

package bench

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profileSeconds is the length of each CPU profile the harness fetches
// from a target while it runs: short, so that a target's exit loses at most
// this much of its profile.
const profileSeconds = 1

// startProfiling fetches CPU profiles of the target at base (its
// /debug/pprof/profile route) one after another into b.Profile, as
// PEER-RUN-N.pprof (RUN: the run's start in ms since the epoch, so that the
// runs of several madbench commands can share a directory), until the
// returned stop is called; stop waits for the profile in flight, and may be
// called again. A profile the target did not finish (it exited, or the
// route failed) is not kept.
func (b *Bench) startProfiling(peer string, base string) (stop func()) {
	if err := os.MkdirAll(b.Profile, 0o755); err != nil {
		b.logf("%s: no profiles: %v", peer, err)
		return func() {}
	}
	run := time.Now().UnixMilli()
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Timeout: (profileSeconds + 10) * time.Second}
		url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, profileSeconds)
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			path := filepath.Join(b.Profile, fmt.Sprintf("%s-%d-%03d.pprof", peer, run, i))
			if err := fetchProfile(client, url, path); err != nil {
				b.logf("%s: profile %d: %v", peer, i, err)
				select {
				case <-quit:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}

// fetchProfile writes the profile at url to path, or nothing.
func fetchProfile(client *http.Client, url, path string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
