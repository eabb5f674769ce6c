package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/cache"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/internal/summary"
	"github.com/feedbus/feedbus/metrics"
)

// report is the --json document: the final stats and why the run ended.
type report struct {
	EndReason string `json:"end_reason"`
	cache.Stats
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logf := cli.Warner("feedcache", stderr)
	opts, err := cacheOptions(c, logf)
	if err != nil {
		return err
	}
	opts = append(opts, cache.WithEvents(func(e feedbus.Event) { printEvent(stderr, e) }))
	if err := c.metrics.Start("feedcache", stderr); err != nil {
		return err
	}
	defer c.metrics.Close()
	srv, err := cache.New(c.lines, opts...)
	if errors.Is(err, cache.ErrOption) || errors.Is(err, feedbus.ErrOption) {
		return cli.UsageError{Err: err}
	}
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := c.metrics.Add(metrics.NewCacheCollector(srv)); err != nil {
		return err
	}
	for i, e := range srv.Lines() {
		fmt.Fprintf(stderr, "feedcache: line %s %s joined\n", bus.LineName(i), e)
	}
	for _, e := range srv.Endpoints() {
		fmt.Fprintf(stderr, "feedcache: listening on %s\n", e)
	}

	var tick <-chan time.Time
	if c.status > 0 {
		t := time.NewTicker(c.status)
		defer t.Stop()
		tick = t.C
	}
	var deadline <-chan time.Time
	if c.duration > 0 {
		t := time.NewTimer(c.duration)
		defer t.Stop()
		deadline = t.C
	}
	reason := ""
	prev, prevAt := srv.Stats(), time.Now()
wait:
	for {
		select {
		case <-ctx.Done():
			reason = "signal"
			break wait
		case <-deadline:
			reason = "duration"
			break wait
		case <-srv.Done():
			reason = "error"
			break wait
		case now := <-tick:
			st := srv.Stats()
			printStatus(stderr, now, st, prev, now.Sub(prevAt))
			prev, prevAt = st, now
		}
	}
	stopErr := srv.Err()
	closeErr := srv.Close()
	st := srv.Stats()
	if c.json != "" {
		if err := summary.WriteJSONFile(c.json, report{EndReason: reason, Stats: st}); err != nil {
			return fmt.Errorf("--json %s: %w", c.json, err)
		}
	}
	if err := writeStats(stdout, st); err != nil {
		return err
	}
	if stopErr != nil {
		return fmt.Errorf("stopped: %w", stopErr)
	}
	return closeErr
}

func printEvent(w io.Writer, e feedbus.Event) {
	switch e.Kind {
	case feedbus.Snail:
		fmt.Fprintf(w, "feedcache: warning: %s\n", e.Text)
	case feedbus.Rejoin:
		fmt.Fprintf(w, "feedcache: line %s %s: rejoined\n", bus.LineName(e.Line), e.Text)
	case feedbus.SessionStart, feedbus.SessionEnd, feedbus.Gap:
		fmt.Fprintf(w, "feedcache: %s\n", e)
	}
}

// printStatus prints one line: the feed, what is held, what was served
// since the last line.
func printStatus(w io.Writer, now time.Time, st, prev cache.Stats, d time.Duration) {
	rate := 0.0
	if d > 0 {
		rate = float64(st.Received-prev.Received) / d.Seconds()
	}
	state := "ready"
	switch {
	case !st.Heard:
		state = "not heard"
	case !st.Ready:
		state = "retransmit only"
	}
	fmt.Fprintf(w, "feedcache: %s %s seq %d rate %.0f msg/s gaps %d missed %d symbols %d history %d msgs %.1f MiB [%d-%d] snap %d retx %d busy %d slow %d bad %d in-progress %d parked %d (%d B)\n",
		now.Format("15:04:05"), state, st.LastSeq, rate, st.FeedGaps, st.Missed, st.Symbols,
		st.HistoryCount, float64(st.HistoryBytes)/(1<<20), st.HistoryFirst, st.HistoryLast,
		st.Snapshots-prev.Snapshots, st.Retransmits-prev.Retransmits, st.Busy-prev.Busy, st.SlowDrops-prev.SlowDrops,
		st.BadRequests-prev.BadRequests, st.InProgress, st.Parked, st.ParkedBytes)
}

// writeStats prints the final stats as an aligned table.
func writeStats(w io.Writer, st cache.Stats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows := []struct {
		name  string
		value any
	}{
		{"session", fmt.Sprintf("%016x", st.Session)},
		{"stream", st.Stream},
		{"joined_at", st.JoinedAt},
		{"last_seq", st.LastSeq},
		{"complete", st.Complete},
		{"received", st.Received},
		{"feed_gaps", st.FeedGaps},
		{"missed", st.Missed},
		{"late_fills", st.LateFills},
		{"symbols", st.Symbols},
		{"symbols_refused", st.SymbolsRefused},
		{"app_records", st.AppRecords},
		{"app_refused", st.AppRefused},
		{"history_count", st.HistoryCount},
		{"history_bytes", st.HistoryBytes},
		{"history_range", fmt.Sprintf("%d-%d", st.HistoryFirst, st.HistoryLast)},
		{"history_evicted", st.HistoryEvicted},
		{"requests", st.Requests},
		{"snapshots", st.Snapshots},
		{"retransmits", st.Retransmits},
		{"records_sent", st.RecordsSent},
		{"messages_sent", st.MessagesSent},
		{"bad_requests", st.BadRequests},
		{"errors_replied", st.ErrorsReplied},
		{"busy", st.Busy},
		{"slow_drops", st.SlowDrops},
		{"unreachable", st.Unreachable},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%v\n", r.name, r.value)
	}
	return tw.Flush()
}
