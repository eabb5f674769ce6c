package snail

import (
	"encoding/json"
	"time"
)

// The JSON forms give every duration in µs (fields ending _us), as the
// rest of feedsub's summary does; times of day stay ns since the epoch
// (_ns). The Go fields keep ns, exactly.

func us(ns int64) float64 { return float64(ns) / 1e3 }

type verdictJSON struct {
	Probe    string   `json:"probe"`
	Kind     Kind     `json:"kind"`
	LagUs    *float64 `json:"lag_us,omitempty"`
	MaxLagUs *float64 `json:"max_lag_us,omitempty"`
	Gaps     *int64   `json:"gaps,omitempty"`
	MaxGaps  *int64   `json:"max_gaps,omitempty"`
	Mode     Mode     `json:"mode"`
	WindowUs float64  `json:"window_us,omitempty"`
	AtNs     int64    `json:"at_ns"`
}

// MarshalJSON writes the verdict with its lag and threshold in µs for a
// lag trip, or as counts for a gaps trip.
func (v Verdict) MarshalJSON() ([]byte, error) {
	out := verdictJSON{Probe: v.Probe, Kind: v.Kind, Mode: v.Mode, WindowUs: us(int64(v.Window)), AtNs: v.At}
	if v.Kind == KindLag {
		lag, max := us(v.Value), us(v.Threshold)
		out.LagUs, out.MaxLagUs = &lag, &max
	} else {
		out.Gaps, out.MaxGaps = &v.Value, &v.Threshold
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (v *Verdict) UnmarshalJSON(b []byte) error {
	var in verdictJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*v = Verdict{Probe: in.Probe, Kind: in.Kind, Mode: in.Mode, Window: time.Duration(in.WindowUs * 1e3), At: in.AtNs}
	if in.LagUs != nil && in.MaxLagUs != nil {
		v.Value, v.Threshold = int64(*in.LagUs*1e3), int64(*in.MaxLagUs*1e3)
	}
	if in.Gaps != nil && in.MaxGaps != nil {
		v.Value, v.Threshold = *in.Gaps, *in.MaxGaps
	}
	return nil
}

type probeStatsJSON struct {
	Name        string   `json:"name"`
	Observed    uint64   `json:"observed"`
	MinLagUs    float64  `json:"min_lag_us"`
	MaxLagUs    float64  `json:"max_lag_us"`
	MaxExcessUs float64  `json:"max_excess_us"`
	Gaps        uint64   `json:"gaps"`
	Drops       uint64   `json:"drops"`
	Trips       uint64   `json:"trips"`
	Over        uint64   `json:"over"`
	OverUs      float64  `json:"over_us"`
	Tripped     bool     `json:"tripped"`
	Last        *Verdict `json:"last,omitempty"`
}

// MarshalJSON writes the probe's lags in µs.
func (p ProbeStats) MarshalJSON() ([]byte, error) {
	return json.Marshal(probeStatsJSON{p.Name, p.Observed, us(p.MinLagNs), us(p.MaxLagNs), us(p.MaxExcessNs),
		p.Gaps, p.Drops, p.Trips, p.Over, us(p.OverNs), p.Tripped, p.Last})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (p *ProbeStats) UnmarshalJSON(b []byte) error {
	var in probeStatsJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*p = ProbeStats{Name: in.Name, Observed: in.Observed, MinLagNs: int64(in.MinLagUs * 1e3), MaxLagNs: int64(in.MaxLagUs * 1e3),
		MaxExcessNs: int64(in.MaxExcessUs * 1e3), Gaps: in.Gaps, Drops: in.Drops, Trips: in.Trips, Over: in.Over,
		OverNs: int64(in.OverUs * 1e3), Tripped: in.Tripped, Last: in.Last}
	return nil
}

type statsJSON struct {
	Mode     Mode         `json:"mode"`
	MaxLagUs float64      `json:"max_lag_us"`
	MaxGaps  int          `json:"max_gaps"`
	WindowUs float64      `json:"window_us,omitempty"`
	Trips    uint64       `json:"trips"`
	Probes   []ProbeStats `json:"probes"`
}

// MarshalJSON writes the thresholds in µs.
func (s Stats) MarshalJSON() ([]byte, error) {
	return json.Marshal(statsJSON{s.Mode, us(s.MaxLagNs), s.MaxGaps, us(s.WindowNs), s.Trips, s.Probes})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (s *Stats) UnmarshalJSON(b []byte) error {
	var in statsJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*s = Stats{Mode: in.Mode, MaxLagNs: int64(in.MaxLagUs * 1e3), MaxGaps: in.MaxGaps, WindowNs: int64(in.WindowUs * 1e3),
		Trips: in.Trips, Probes: in.Probes}
	return nil
}
