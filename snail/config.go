package snail

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// Errors returned by Config.Validate (wrapped with the offending value)
// and by ParseMode. Test with errors.Is.
var (
	// ErrMaxLag: MaxLag is zero; a zero threshold would trip on every
	// message, so it is almost certainly an unset field.
	ErrMaxLag = errors.New("snail: MaxLag must be positive, or negative to disable the lag check")
	// ErrRearmLag: RearmLag is outside [0, MaxLag].
	ErrRearmLag = errors.New("snail: RearmLag must be between 0 and MaxLag")
	// ErrWindow: Window is not positive while the gap check is enabled.
	ErrWindow = errors.New("snail: Window must be positive when the gap check is enabled")
	// ErrMode: Mode is neither LagExcess nor LagAbsolute.
	ErrMode = errors.New("snail: unknown lag mode (want \"excess\" or \"absolute\")")
)

// Command-line flag names. Verdict.String names the threshold by its flag
// so an operator knows what to turn; RegisterFlags uses the same names.
const (
	FlagMaxLag   = "snail-max-lag"
	FlagRearmLag = "snail-rearm-lag"
	FlagMaxGaps  = "snail-max-gaps"
	FlagWindow   = "snail-window"
	FlagMode     = "snail-mode"
)

// Defaults, see DefaultConfig.
const (
	DefaultMaxLag  = time.Second
	DefaultMaxGaps = 0
	DefaultWindow  = time.Second
	DefaultMode    = LagExcess
)

// Mode selects what the lag threshold is compared with.
type Mode uint8

const (
	// LagExcess compares the excess of the lag over the lowest lag the
	// probe has seen, which cancels clock offset between the hosts. It is
	// the zero value and the default.
	LagExcess Mode = iota
	// LagAbsolute compares the raw lag, now − send time; it needs
	// synchronised clocks.
	LagAbsolute
)

// String returns "excess" or "absolute".
func (m Mode) String() string {
	switch m {
	case LagExcess:
		return "excess"
	case LagAbsolute:
		return "absolute"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode parses "excess" or "absolute".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "excess":
		return LagExcess, nil
	case "absolute":
		return LagAbsolute, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrMode, s)
}

// MarshalText makes Mode print by name in JSON and work with flag.TextVar.
func (m Mode) MarshalText() ([]byte, error) {
	if m > LagAbsolute {
		return nil, fmt.Errorf("%w: %d", ErrMode, uint8(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText is the inverse of MarshalText.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Config configures a Detector. Start from DefaultConfig: the zero Config
// is invalid, because a zero MaxLag is more likely unset than meant.
type Config struct {
	// MaxLag is the lag (or excess, see Mode) a probe may reach; strictly
	// more trips. Negative disables the lag check.
	MaxLag time.Duration
	// RearmLag is the value at or below which a lag-tripped probe re-arms.
	// Zero means MaxLag/2, so a lag hovering at the threshold trips once.
	RearmLag time.Duration
	// MaxGaps is how many missing or dropped messages are tolerated per
	// Window; strictly more trips. 0 trips on any loss; negative disables
	// the gap check.
	MaxGaps int
	// Window is the length of the tumbling window MaxGaps applies to.
	Window time.Duration
	// Mode selects absolute lag or excess over the minimum lag.
	Mode Mode
}

// DefaultConfig returns MaxLag 1s (the guide's threshold), MaxGaps 0 (any
// unrecoverable loss makes the book wrong), Window 1s and LagExcess (robust
// to clock skew in either direction; see the package doc).
func DefaultConfig() Config {
	return Config{
		MaxLag:  DefaultMaxLag,
		MaxGaps: DefaultMaxGaps,
		Window:  DefaultWindow,
		Mode:    DefaultMode,
	}
}

// Validate reports the first invalid field, wrapping one of the Err values.
func (c Config) Validate() error {
	if c.MaxLag == 0 {
		return fmt.Errorf("%w (got %v)", ErrMaxLag, c.MaxLag)
	}
	if c.MaxLag > 0 && (c.RearmLag < 0 || c.RearmLag > c.MaxLag) {
		return fmt.Errorf("%w (got RearmLag %v, MaxLag %v)", ErrRearmLag, c.RearmLag, c.MaxLag)
	}
	if c.MaxGaps >= 0 && c.Window <= 0 {
		return fmt.Errorf("%w (got %v)", ErrWindow, c.Window)
	}
	if c.Mode > LagAbsolute {
		return fmt.Errorf("%w: %d", ErrMode, uint8(c.Mode))
	}
	return nil
}

// RegisterFlags defines the snail flags on fs, with c's current values as
// defaults, so every command spells and documents them the same way.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.MaxLag, FlagMaxLag, c.MaxLag,
		"lag (or excess over min lag, see -"+FlagMode+") beyond which a subscriber cannot keep up; negative disables")
	fs.DurationVar(&c.RearmLag, FlagRearmLag, c.RearmLag,
		"lag at or below which a tripped probe re-arms; 0 means half of -"+FlagMaxLag)
	fs.IntVar(&c.MaxGaps, FlagMaxGaps, c.MaxGaps,
		"missing or dropped messages tolerated per -"+FlagWindow+"; 0 trips on any loss, negative disables")
	fs.DurationVar(&c.Window, FlagWindow, c.Window,
		"tumbling window for -"+FlagMaxGaps)
	fs.TextVar(&c.Mode, FlagMode, c.Mode,
		"lag judged as \"excess\" over the lowest lag seen (tolerates clock skew) or \"absolute\" (needs synced clocks)")
}
