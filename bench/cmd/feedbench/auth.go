package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// featureRun is one search of feedbus at latencySize, with or without a
// feature (--auth-key, --metrics).
type featureRun struct {
	on  bool
	rep int
	r   *searchResult
}

// alternate searches feedbus's highest sustainable 64-byte rate without
// and with a feature (set on the spec by with), reps times, each search
// followed at once by the other, so that both see the same machine.
func (b *bench) alternate(ctx context.Context, what string, reps int, with func(sp *spec, on bool)) ([]featureRun, error) {
	var out []featureRun
	for rep := 1; rep <= reps; rep++ {
		for _, on := range []bool{false, true} {
			sp := spec{sys: feedbus, size: latencySize, duration: b.cfg.duration}
			with(&sp, on)
			fmt.Fprintf(b.stderr, "feedbench: %s %s (run %d of %d)\n", what, sp, rep, reps)
			r, err := b.sustainable(ctx, sp, b.cfg.iterations)
			if err != nil {
				return out, err
			}
			fmt.Fprintf(b.stderr, "feedbench: %s: sustainable %s msg/s\n", sp, thousands(r.rate()))
			out = append(out, featureRun{on: on, rep: rep, r: r})
		}
	}
	return out, nil
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

// authSection compares the rate without and with --auth-key.
func (b *bench) authSection(ctx context.Context, res *results) error {
	runs, err := b.alternate(ctx, "authentication", b.cfg.authReps, func(sp *spec, on bool) { sp.auth = on })
	res.auth = runs
	return err
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
