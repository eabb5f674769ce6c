// Package summary is feedsub's end-of-run report: the JSON document that
// scripts and tests read (--json) and the table people read.
package summary

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/internal/latency"
	"github.com/feedbus/feedbus/recovery"
	"github.com/feedbus/feedbus/snail"
)

// Summary is feedsub's machine-readable report. Counts are messages unless
// named otherwise. Units: durations and latencies are µs (fields and
// objects ending _us), spans of a run seconds (_s), times of day ns since
// the epoch (_ns), memory bytes (_bytes), prices fixed-point integers in
// units of 1/PriceScale (1e-8). Field names are a stable interface: add,
// never rename.
type Summary struct {
	// PriceScale is how many price units make 1.0 in every price below.
	PriceScale int64  `json:"price_scale"`
	Received   uint64 `json:"received"`   // first copies delivered (matching --topic)
	Gaps       uint64 `json:"gaps"`       // declared missing on every line, never filled
	GapEvents  uint64 `json:"gap_events"` // holes declared
	Duplicates uint64 `json:"duplicates"` // later copies dropped
	Reordered  uint64 `json:"reordered"`  // filled a hole before it was declared a gap
	Late       uint64 `json:"late"`       // filled a hole after it was declared a gap
	Pending    uint64 `json:"pending"`    // missing at the end, not yet declared
	Filtered   uint64 `json:"filtered"`   // first copies not matching --topic
	Skipped    uint64 `json:"skipped"`    // first copies of kinds this reader does not know (from a newer writer)
	// BadStamps counts data frames whose send time was further from the
	// receive time than --max-clock-skew: delivered, but kept out of the
	// latency and the snail.
	BadStamps uint64 `json:"bad_stamps"`
	// Stream is the stream followed. Foreign frames (another stream, or a
	// session that is not the followed one nor a restart of it) are
	// counted per line in Lines[].Foreign and never delivered.
	Stream uint32 `json:"stream"`
	// Restarts counts publisher restarts followed (new sessions that
	// replaced the followed one).
	Restarts uint64 `json:"restarts"`
	// Implausible counts frames refused for starting implausibly far
	// ahead of the followed session (--max-jump), in frames.
	Implausible uint64 `json:"implausible"`
	// Conflicts counts message copies that differ from the copy another
	// line delivered first: a forged frame at the feed's own next numbers
	// (only --auth-key refuses those), or two publishers sharing a session
	// id. Per line in Lines[].Conflicts; the first copy was delivered.
	Conflicts uint64 `json:"conflicts"`
	// Recovered counts messages delivered from recovery servers (also in
	// Recovery, with the rest of recovery's counts; nil without it).
	Recovered uint64    `json:"recovered"`
	Recovery  *Recovery `json:"recovery,omitempty"`
	// HoleFillUS is, when the subscriber delivers in order (udp:// lines,
	// or --recovery), how long each hole a line filled had waited: the
	// other line's lag, or a datagram's late arrival. --gap-wait must
	// cover it.
	HoleFillUS *latency.Percentiles `json:"hole_fill_us,omitempty"`
	// JoinedAfter is how many messages of the first session followed came
	// before the first one this subscriber saw (it joined late, or missed
	// the start): not a gap, but not received either.
	JoinedAfter uint64 `json:"joined_after"`
	// AuthFailed counts frames refused by --auth-key (unsigned, signed
	// with an unknown key, altered, or stale), per line in Lines too.
	AuthFailed uint64 `json:"auth_failed"`
	// LastAuthFailure says why the last of them was refused.
	LastAuthFailure string `json:"last_auth_failure,omitempty"`
	Malformed       uint64 `json:"malformed"`  // frames that failed to decode
	Sessions        uint64 `json:"sessions"`   // publisher sessions seen
	Frames          uint64 `json:"frames"`     // data frames received, all lines
	Heartbeats      uint64 `json:"heartbeats"` // heartbeat frames received, all lines
	// NegativeLatency counts messages whose send time was after their
	// receive time: the clocks of the two hosts disagree.
	NegativeLatency uint64 `json:"negative_latency"`
	// ElapsedS runs from the first message received to the last.
	ElapsedS  float64             `json:"elapsed_s"`
	MsgsPerS  float64             `json:"msgs_per_s"`
	LatencyUS latency.Percentiles `json:"latency_us"`
	// LatencyCorrectedUS is LatencyUS corrected for coordinated omission
	// with ExpectedIntervalUS between messages (--expected-interval).
	LatencyCorrectedUS *latency.Percentiles `json:"latency_corrected_us,omitempty"`
	ExpectedIntervalUS float64              `json:"expected_interval_us,omitempty"`
	Lines              []Line               `json:"lines"`
	// Timeline has one entry a second (or per --status interval): how
	// many messages arrived and which line delivered them first, so a
	// failover shows when it happened.
	Timeline []Interval `json:"timeline,omitempty"`
	// Dropped and Conflated total what the workers' full queues cost.
	Dropped   uint64 `json:"dropped"`
	Conflated uint64 `json:"conflated"`
	Abandoned uint64 `json:"abandoned"` // left queued when the drain time ran out
	// EventsDropped counts events the application's callback was too slow for.
	EventsDropped uint64               `json:"events_dropped,omitempty"`
	Workers       []fanout.WorkerStats `json:"workers"`
	Snail         snail.Stats          `json:"snail"`
	// SnailVerdict is the line feedsub exited with under --snail-action exit.
	SnailVerdict string        `json:"snail_verdict,omitempty"`
	Books        []fanout.Book `json:"books,omitempty"`
	// BooksRefused counts messages of symbols beyond --max-symbols, which
	// were delivered but not booked.
	BooksRefused uint64 `json:"books_refused"`
	// VmHWMBytes is feedsub's peak resident memory.
	VmHWMBytes uint64 `json:"vm_hwm_bytes"`
	// EndReason says why the subscriber stopped: count, idle or signal.
	EndReason string `json:"end_reason"`
	// LastMalformed is the last decoding error, to tell noise from a bug.
	LastMalformed string `json:"last_malformed,omitempty"`
}

// Interval is one step of the timeline.
type Interval struct {
	T        float64  `json:"t_s"`      // seconds since feedsub started, at the end of the interval
	Received uint64   `json:"received"` // messages delivered in the interval
	Won      []uint64 `json:"won"`      // per line, messages it delivered first in the interval
}

// MaxTimeline bounds the timeline; a longer run keeps its first entries.
const MaxTimeline = 24 * 3600

// Line is one line's share of the feed.
type Line struct {
	Name        string              `json:"name"`
	Endpoint    string              `json:"endpoint"`
	Received    uint64              `json:"received"` // messages received on this line, copies included
	Won         uint64              `json:"won"`      // messages this line delivered first
	Gaps        uint64              `json:"gaps"`     // messages this line missed
	Frames      uint64              `json:"frames"`
	Rejoins     uint64              `json:"rejoins"`                // times the line was rejoined after going silent
	Foreign     uint64              `json:"foreign"`                // frames of another stream or session, dropped
	AuthFailed  uint64              `json:"auth_failed"`            // frames refused by --auth-key
	Implausible uint64              `json:"implausible"`            // frames refused for starting implausibly far ahead (--max-jump)
	Conflicts   uint64              `json:"conflicts"`              // message copies that differ from the copy another line delivered
	KernelDrops uint64              `json:"kernel_drops,omitempty"` // udp:// lines: datagrams the socket dropped for want of buffer (SO_RXQ_OVFL)
	Truncated   uint64              `json:"truncated,omitempty"`    // udp:// lines: datagrams larger than --max-datagram, dropped
	LatencyUS   latency.Percentiles `json:"latency_us"`
}

// WriteJSONFile writes s (a Summary or a Publisher) to path, indented.
func WriteJSONFile(path string, s any) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	return nil
}

// ReadJSONFile reads a summary written by WriteJSONFile.
func ReadJSONFile(path string) (*Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading summary %s: %w", path, err)
	}
	return &s, nil
}

// WriteTable prints s for a person.
func WriteTable(w io.Writer, s *Summary) error {
	f := latency.Format
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "feedsub summary (ended by %s)\n", s.EndReason)
	fmt.Fprintf(tw, "  received\t%d messages in %.2fs, %.0f msg/s\n", s.Received, s.ElapsedS, s.MsgsPerS)
	fmt.Fprintf(tw, "  gaps\t%d (%d holes; %d pending, %d late)\n", s.Gaps, s.GapEvents, s.Pending, s.Late)
	fmt.Fprintf(tw, "  duplicates\t%d (%d reordered)\n", s.Duplicates, s.Reordered)
	if s.LastMalformed != "" {
		fmt.Fprintf(tw, "  malformed\t%d frames (last: %s)\n", s.Malformed, s.LastMalformed)
	} else {
		fmt.Fprintf(tw, "  malformed\t%d frames\n", s.Malformed)
	}
	fmt.Fprintf(tw, "  sessions\t%d of stream %d (%d restarts)\n", s.Sessions, s.Stream, s.Restarts)
	if s.JoinedAfter > 0 {
		fmt.Fprintf(tw, "  joined\tafter %d messages of the first session (before this subscriber heard it)\n", s.JoinedAfter)
	}
	var foreign uint64
	for _, ln := range s.Lines {
		foreign += ln.Foreign
	}
	if foreign+s.Implausible+s.BadStamps+s.Skipped+s.BooksRefused+s.AuthFailed > 0 {
		fmt.Fprintf(tw, "  refused\t%d failing authentication, %d foreign frames, %d implausible frames, %d bad stamps, %d messages of unknown kinds, %d messages not booked (--max-symbols)\n",
			s.AuthFailed, foreign, s.Implausible, s.BadStamps, s.Skipped, s.BooksRefused)
	}
	if rc := s.Recovery; rc != nil {
		fmt.Fprintf(tw, "  recovered\t%d messages (%d requests, fill p50 %s p99 %s); %d unrecovered; snapshots %d (%d records, at seq %d); failed %d\n",
			rc.Recovered, rc.Requests, f(rc.FillUS.P50), f(rc.FillUS.P99), rc.Unrecovered, rc.Snapshots, rc.SnapshotRecords, rc.SnapshotSeq, rc.Failed)
		if rc.LastFailure != "" {
			fmt.Fprintf(tw, "  recovery\tlast failure: %s\n", rc.LastFailure)
		}
	}
	if s.Conflicts > 0 {
		fmt.Fprintf(tw, "  conflicts\t%d message copies differ from the copy delivered (a forged frame, or two publishers with one session id)\n", s.Conflicts)
	}
	if s.LastAuthFailure != "" {
		fmt.Fprintf(tw, "  auth\tlast failure: %s\n", s.LastAuthFailure)
	}
	fmt.Fprintf(tw, "  frames\t%d data, %d heartbeats\n", s.Frames, s.Heartbeats)
	if s.Filtered > 0 {
		fmt.Fprintf(tw, "  filtered\t%d (not matching --topic)\n", s.Filtered)
	}
	l := s.LatencyUS
	fmt.Fprintf(tw, "  latency\tp50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", f(l.P50), f(l.P90), f(l.P99), f(l.P999), f(l.Max))
	if c := s.LatencyCorrectedUS; c != nil {
		fmt.Fprintf(tw, "  corrected\tp50 %s  p90 %s  p99 %s  p99.9 %s  max %s (coordinated omission, %gµs interval)\n", f(c.P50), f(c.P90), f(c.P99), f(c.P999), f(c.Max), s.ExpectedIntervalUS)
	}
	if s.NegativeLatency > 0 {
		fmt.Fprintf(tw, "  clock skew\t%d messages arrived before they were sent: the hosts' clocks disagree\n", s.NegativeLatency)
	}
	fmt.Fprintf(tw, "  workers\t%d: dropped %d, conflated %d; snail trips %d\n", len(s.Workers), s.Dropped, s.Conflated, s.Snail.Trips)
	fmt.Fprintf(tw, "  memory\tpeak RSS %.1f MiB\n", float64(s.VmHWMBytes)/(1<<20))
	if s.SnailVerdict != "" {
		fmt.Fprintf(tw, "  verdict\t%s\n", s.SnailVerdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.Workers) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  worker\tcpu\tprocessed\tdropped\tconflated\tmax lag\tqueue max\n")
		for _, wk := range s.Workers {
			cpu := "-"
			if wk.CPU >= 0 {
				cpu = fmt.Sprint(wk.CPU)
			}
			fmt.Fprintf(tw, "  %d\t%s\t%d\t%d\t%d\t%s\t%d\n", wk.Worker, cpu, wk.Processed, wk.Dropped, wk.Conflated, f(wk.MaxLagUs), wk.QueueMax)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(s.Lines) == 0 {
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  line\tendpoint\treceived\twon\tgaps\trejoins\tforeign\tp50\tp99\n")
	for _, ln := range s.Lines {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n",
			ln.Name, ln.Endpoint, ln.Received, ln.Won, ln.Gaps, ln.Rejoins, ln.Foreign, f(ln.LatencyUS.P50), f(ln.LatencyUS.P99))
	}
	return tw.Flush()
}

// Publisher is feedpub's machine-readable report (--json). Counts are
// messages unless named otherwise; times are seconds (_s).
type Publisher struct {
	Session    string          `json:"session"`    // hex, as feedpub prints it
	Messages   uint64          `json:"messages"`   // published: put in frames sent on the lines
	Frames     uint64          `json:"frames"`     // data frames
	Heartbeats uint64          `json:"heartbeats"` // heartbeat frames
	WireBytes  uint64          `json:"wire_bytes"` // data frame bytes per line, after compression
	Rejected   uint64          `json:"rejected"`   // bad input records (--input) or malformed captured frames (--replay) skipped
	ElapsedS   float64         `json:"elapsed_s"`  // from the start of publishing to the last data frame
	MsgsPerS   float64         `json:"msgs_per_s"` // Messages / ElapsedS
	Lines      []PublisherLine `json:"lines"`
}

// PublisherLine is one line's share of what feedpub sent.
type PublisherLine struct {
	Name            string `json:"name"`
	Endpoint        string `json:"endpoint"`
	Messages        uint64 `json:"messages"`         // messages the line's socket took
	Frames          uint64 `json:"frames"`           // frames the line's socket took, heartbeats included
	DroppedFrames   uint64 `json:"dropped_frames"`   // frames dropped because the line was full (--on-full drop)
	DroppedMessages uint64 `json:"dropped_messages"` // messages in those frames
	Waits           uint64 `json:"waits"`            // times the publisher waited for a full line (--on-full block)
}

// ReadPublisherJSONFile reads a summary feedpub wrote with --json.
func ReadPublisherJSONFile(path string) (*Publisher, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Publisher
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading publisher summary %s: %w", path, err)
	}
	return &s, nil
}

// Recovery is a subscriber's recovery (feedbus.WithRecovery).
type Recovery struct {
	// Recovered counts messages delivered from a recovery server.
	Recovered uint64 `json:"recovered"`
	// Unrecovered counts messages of holes given up: no server had them
	// in time (they are also gaps).
	Unrecovered uint64 `json:"unrecovered"`
	// Requests counts retransmission requests; Snapshots snapshot ones.
	Requests  uint64 `json:"requests"`
	Snapshots uint64 `json:"snapshots"`
	// SnapshotRecords counts records delivered from snapshots, and
	// SnapshotSeq is the sequence number the last snapshot was valid at.
	SnapshotRecords uint64 `json:"snapshot_records"`
	SnapshotSeq     uint64 `json:"snapshot_seq"`
	// Failed counts requests given up: no server answered, or one said it
	// could not serve them (LastFailure says why).
	Failed      uint64 `json:"failed"`
	LastFailure string `json:"last_failure,omitempty"`
	// HeldMax is the most frame bytes held behind a hole at once, and
	// HoldOverflows the holes given up because the hold limit was reached.
	HeldMax       int    `json:"held_max_bytes"`
	HoldOverflows uint64 `json:"hold_overflows"`
	// Stale counts replies to requests no longer in progress.
	Stale uint64 `json:"stale_replies"`
	// FillUS is the time from a hole's opening to its fill, for holes a
	// server filled.
	FillUS latency.Percentiles `json:"fill_us"`
	// Client is the request client's: timeouts and failovers.
	Client recovery.ClientStats `json:"client"`
}
