package feedtext

import (
	"errors"
	"math"
	"math/big"
	"regexp"
	"testing"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
)

func TestParsePrice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string // "" for none
	}{
		{"0", 0, ""},
		{"-0", 0, ""},
		{"0.00", 0, ""},
		{"101.25", 10125000000, ""},
		{"-0.5", -50000000, ""},
		{"7", 700000000, ""},
		{"7.", 700000000, ""},
		{".5", 50000000, ""},
		{"-.5", -50000000, ""},
		{"0.1", 10000000, ""}, // exact, unlike float64
		{"0.00000001", 1, ""},
		{"-0.00000001", -1, ""},
		{"00042.10000000", 4210000000, ""},
		{"1234567890.12345678", 123456789012345678, ""},
		{"92233720368.54775807", math.MaxInt64, ""},
		{"-92233720368.54775808", math.MinInt64, ""},
		{"92233720368", 9223372036800000000, ""},
		{"", 0, `price "": empty`},
		{"-", 0, `price "-": not a decimal`},
		{".", 0, `price ".": not a decimal`},
		{"-.", 0, `price "-.": not a decimal`},
		{"+1", 0, `price "+1": not a decimal`},
		{"--1", 0, `price "--1": not a decimal`},
		{"1-", 0, `price "1-": not a decimal`},
		{"1.-5", 0, `price "1.-5": not a decimal`},
		{"- 1", 0, `price "- 1": not a decimal`},
		{" 1", 0, `price " 1": not a decimal`},
		{"1 ", 0, `price "1 ": not a decimal`},
		{"1..2", 0, `price "1..2": not a decimal`},
		{"1.2.3", 0, `price "1.2.3": not a decimal`},
		{"1e3", 0, `price "1e3": not a decimal`},
		{"1,5", 0, `price "1,5": not a decimal`},
		{"1_000", 0, `price "1_000": not a decimal`},
		{"0x10", 0, `price "0x10": not a decimal`},
		{"NaN", 0, `price "NaN": not a decimal`},
		{"Inf", 0, `price "Inf": not a decimal`},
		{"١", 0, `price "١": not a decimal`}, // a digit, but not an ASCII one
		{"0.000000001", 0, `price "0.000000001": more than 8 decimal places`},
		{"1.000000000", 0, `price "1.000000000": more than 8 decimal places`},
		{"92233720368.54775808", 0, `price "92233720368.54775808": out of range`},
		{"-92233720368.54775809", 0, `price "-92233720368.54775809": out of range`},
		{"92233720369", 0, `price "92233720369": out of range`},
		{"99999999999999999999999999", 0, `price "99999999999999999999999999": out of range`},
		{"99999999999999999999999999x", 0, `price "99999999999999999999999999x": not a decimal`},
		{"99999999999999999999999999.123456789", 0, `price "99999999999999999999999999.123456789": more than 8 decimal places`},
	} {
		got, err := ParsePrice(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParsePrice(%q): %v", tc.in, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("ParsePrice(%q) = %d, want %d", tc.in, got, tc.want)
		case tc.err != "" && err == nil:
			t.Errorf("ParsePrice(%q) = %d, want error %s", tc.in, got, tc.err)
		case tc.err != "" && (err.Error() != tc.err || !errors.Is(err, ErrPrice)):
			t.Errorf("ParsePrice(%q): %v, want %s matching ErrPrice", tc.in, err, tc.err)
		}
	}
}

// TestAppendPrice pins appendPrice to fanout.FormatPrice, whose output
// AppendLine promises to match.
func TestAppendPrice(t *testing.T) {
	for _, p := range []int64{0, 1, -1, 10125000000, -250000000, 123456789012345678, math.MaxInt64, math.MinInt64, bus.PriceScale, -bus.PriceScale} {
		if got, want := string(appendPrice(nil, p)), fanout.FormatPrice(p); got != want {
			t.Errorf("appendPrice(%d) = %q, FormatPrice %q", p, got, want)
		}
	}
}

// FuzzPriceRoundTrip checks that ParsePrice inverts fanout.FormatPrice for
// every int64, and that appendPrice writes what FormatPrice does.
func FuzzPriceRoundTrip(f *testing.F) {
	for _, p := range []int64{0, 1, -1, 10125000000, 99999999, -100000001, math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p int64) {
		s := fanout.FormatPrice(p)
		got, err := ParsePrice(s)
		if err != nil || got != p {
			t.Fatalf("ParsePrice(FormatPrice(%d) = %q) = %d, %v", p, s, got, err)
		}
		if a := string(appendPrice(nil, p)); a != s {
			t.Fatalf("appendPrice(%d) = %q, FormatPrice %q", p, a, s)
		}
	})
}

// priceSyntax is the documented form of a price, written independently of
// the parser.
var priceSyntax = regexp.MustCompile(`^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)

// FuzzParsePrice checks ParsePrice against an oracle built from a regular
// expression and math/big: it must accept exactly the strings of the
// documented form with at most 8 decimals whose value fits, and return
// that value exactly.
func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{"101.25", "-0.5", "7", "7.", ".5", "-.5", "", "-", ".", "+1", "1e3", "0.000000001", "92233720368.54775807", "-92233720368.54775808", "92233720368.54775808", "00000000000000000000001.5", "1.2.3", " 1"} {
		f.Add(s)
	}
	scale := big.NewRat(bus.PriceScale, 1)
	minP, maxP := big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParsePrice(s)
		if err != nil && !errors.Is(err, ErrPrice) {
			t.Fatalf("ParsePrice(%q): %v does not match ErrPrice", s, err)
		}
		if !priceSyntax.MatchString(s) {
			if err == nil {
				t.Fatalf("ParsePrice(%q) = %d, want an error", s, got)
			}
			return
		}
		dot := len(s)
		for i := range len(s) {
			if s[i] == '.' {
				dot = i
			}
		}
		if dot < len(s) && len(s)-dot-1 > 8 {
			if err == nil {
				t.Fatalf("ParsePrice(%q) = %d, want an error for 9 decimals or more", s, got)
			}
			return
		}
		v, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("big.Rat rejects %q", s)
		}
		v.Mul(v, scale)
		if !v.IsInt() {
			t.Fatalf("%q × 1e8 = %v is not whole", s, v)
		}
		n := v.Num()
		if n.Cmp(minP) < 0 || n.Cmp(maxP) > 0 {
			if err == nil {
				t.Fatalf("ParsePrice(%q) = %d, want out of range", s, got)
			}
			return
		}
		if err != nil || got != n.Int64() {
			t.Fatalf("ParsePrice(%q) = %d, %v, want %v", s, got, err, n)
		}
	})
}
