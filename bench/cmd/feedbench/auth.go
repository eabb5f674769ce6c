package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// authRun is one search of feedbus at latencySize, with or without
// --auth-key.
type authRun struct {
	auth bool
	rep  int
	r    *searchResult
}

// writeKeys writes a group key file with one fresh key and returns its path.
func writeKeys(dir string) (string, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "keys.toml")
	text := fmt.Sprintf("[[key]]\nid = 1\nsecret = %q\n", hex.EncodeToString(secret))
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", fmt.Errorf("writing the key file: %w", err)
	}
	return path, nil
}

// authSection searches feedbus's highest sustainable 64-byte rate without
// and with --auth-key, alternating -auth-reps times, so that both see the
// same machine.
func (b *bench) authSection(ctx context.Context, res *results) error {
	for rep := 1; rep <= b.cfg.authReps; rep++ {
		for _, auth := range []bool{false, true} {
			sp := spec{sys: feedbus, size: latencySize, duration: b.cfg.duration, auth: auth}
			fmt.Fprintf(b.stderr, "feedbench: authentication %s (run %d of %d)\n", sp, rep, b.cfg.authReps)
			r, err := b.sustainable(ctx, sp, b.cfg.iterations)
			if err != nil {
				return err
			}
			fmt.Fprintf(b.stderr, "feedbench: %s: sustainable %s msg/s\n", sp, thousands(r.rate()))
			res.auth = append(res.auth, authRun{auth: auth, rep: rep, r: r})
		}
	}
	return nil
}

// authTable renders the authentication comparison.
func (r *results) authTable(p printer) {
	if len(r.auth) == 0 {
		return
	}
	p("### Authenticated frames (`--auth-key`), %d-byte messages\n\n", latencySize)
	p("| run | without: sustainable msg/s | with --auth-key | with ÷ without | publisher CPU with | subscriber CPU with |\n")
	p("|---|---:|---:|---:|---:|---:|\n")
	var ratios []float64
	for i := 0; i+1 < len(r.auth); i += 2 {
		off, on := r.auth[i].r, r.auth[i+1].r
		pub, sub := "–", "–"
		if b, ok := on.best(); ok {
			pub, sub = b.during.pub.share(b.during.secs), b.during.sub.share(b.during.secs)
		}
		if off.rate() > 0 {
			ratios = append(ratios, on.rate()/off.rate())
		}
		p("| %d | %s | %s | %s | %s | %s |\n", r.auth[i].rep, rateCell(off.rate()), rateCell(on.rate()), ratio(on.rate(), off.rate()), pub, sub)
	}
	if len(ratios) > 0 {
		p("\nMedian of with ÷ without: %.2f. Each pair of searches ran back to back, without first.\n", median(ratios))
	}
	p("\n")
}
