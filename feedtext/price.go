package feedtext

import (
	"math"
	"strconv"

	"github.com/feedbus/feedbus/bus"
)

// priceDecimals is the number of decimal places of a fixed-point price:
// bus.PriceScale is 1e8.
const priceDecimals = 8

// ParsePrice converts a decimal to a fixed-point price in units of
// 1/bus.PriceScale (1e-8), exactly: no float64 is involved, so "0.1" is
// 10000000 and not a value near it. It is the inverse of fanout.FormatPrice.
//
// The accepted form is an optional '-', then digits with at most one '.'
// among or around them and at most 8 digits after it: "101.25", "-0.5",
// "7", "7." and ".5" are accepted; "", "-", ".", "+1", "1e3", "1,5",
// " 1", "0.000000001" (9 decimal places) are not, nor is anything outside
// -92233720368.54775808 to 92233720368.54775807. The error matches ErrPrice.
func ParsePrice(s string) (int64, error) {
	p, reason := parsePrice(s)
	if reason != "" {
		return 0, badValue(ErrPrice, "price", s, reason)
	}
	return p, nil
}

// parsePrice is ParsePrice without the error value, for both strings and
// line bytes, so the Reader allocates nothing on good input. reason is
// empty on success.
func parsePrice[T string | []byte](s T) (p int64, reason string) {
	if len(s) == 0 {
		return 0, "empty"
	}
	i := 0
	neg := s[0] == '-'
	if neg {
		i++
	}
	// The magnitude of the result is at most 1<<63 when negative (to reach
	// math.MinInt64) and 1<<63-1 when not. Digits are scanned to the end
	// even after an overflow so a syntax error is reported as such.
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var whole uint64
	overflow := false
	intDigits := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		intDigits++
		if whole > limit/bus.PriceScale {
			overflow = true
			continue
		}
		whole = whole*10 + uint64(s[i]-'0')
	}
	var frac uint64
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && isDigit(s[i]); i++ {
			if fracDigits < priceDecimals {
				frac = frac*10 + uint64(s[i]-'0')
			}
			fracDigits++
		}
	}
	switch {
	case i < len(s) || intDigits+fracDigits == 0:
		return 0, "not a decimal"
	case fracDigits > priceDecimals:
		return 0, "more than 8 decimal places"
	case overflow || whole > limit/bus.PriceScale:
		return 0, "out of range"
	}
	for range priceDecimals - fracDigits {
		frac *= 10
	}
	// whole ≤ limit/1e8, so whole*1e8 + frac cannot wrap a uint64.
	mag := whole*bus.PriceScale + frac
	if mag > limit {
		return 0, "out of range"
	}
	if neg {
		// For mag = 1<<63 the uint64 negation is 1<<63 too, which converts
		// to math.MinInt64: the one value whose magnitude int64 lacks.
		return int64(-mag), ""
	}
	return int64(mag), ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// appendPrice appends p as fanout.FormatPrice formats it: exact, with at
// least two and at most eight decimals. It is repeated here rather than
// imported so that this package does not depend on fanout.
func appendPrice(dst []byte, p int64) []byte {
	u := uint64(p)
	if p < 0 {
		dst = append(dst, '-')
		u = -u
	}
	dst = strconv.AppendUint(dst, u/bus.PriceScale, 10)
	var digits [priceDecimals]byte
	frac := u % bus.PriceScale
	for i := len(digits) - 1; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := len(digits)
	for n > 2 && digits[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, digits[:n]...)
}

// parseUint parses an unsigned decimal of at most max, which must be below
// math.MaxUint64/10. Like parsePrice it scans to the end before it reports
// a value out of range.
func parseUint[T string | []byte](s T, max uint64) (v uint64, reason string) {
	if len(s) == 0 {
		return 0, "empty"
	}
	overflow := false
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, "not an unsigned integer"
		}
		v = v*10 + uint64(s[i]-'0')
		if v > max {
			overflow = true
			v = max // keeps v*10 from wrapping on the digits still to scan
		}
	}
	if overflow {
		return 0, "out of range"
	}
	return v, ""
}
