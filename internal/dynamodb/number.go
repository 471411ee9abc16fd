package dynamodb

import (
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// DynamoDB's numbers: up to 38 significant digits, magnitudes from 1E-130
// to under 1E+126, zero included. They are kept as canonical decimal text
// (no exponent, no leading or trailing zeros) and computed with apd at 38
// digits, never through float64.
const (
	numPrecision = 38
	numMaxExp    = 125  // largest adjusted exponent
	numMinExp    = -130 // smallest adjusted exponent
)

// numCtx is the arithmetic context of ADD and SET a = b + c.
var numCtx = apd.Context{Precision: numPrecision, MaxExponent: 200, MinExponent: -200,
	Traps: apd.InvalidOperation | apd.DivisionByZero, Rounding: apd.RoundHalfEven}

// parseNumber reads a wire number.
func parseNumber(s string) (*apd.Decimal, error) {
	if len(s) > 512 || strings.TrimSpace(s) != s || s == "" {
		return nil, validationf("A value provided cannot be converted into a number")
	}
	d, _, err := apd.NewFromString(s)
	if err != nil || d.Form != apd.Finite {
		return nil, validationf("A value provided cannot be converted into a number")
	}
	return d, nil
}

// checkRange enforces DynamoDB's precision and magnitude limits on d
// (reduced in place).
func checkRange(d *apd.Decimal) error {
	d.Reduce(d)
	if d.IsZero() {
		d.Negative = false
		d.Exponent = 0
		return nil
	}
	digits := int64(d.NumDigits())
	if digits > numPrecision {
		return validationf("Attempting to store more than 38 significant digits in a Number")
	}
	adj := int64(d.Exponent) + digits - 1
	if adj > numMaxExp {
		return validationf("Number overflow. Attempting to store a number with magnitude larger than supported range")
	}
	if adj < numMinExp {
		return validationf("Number underflow. Attempting to store a number with magnitude smaller than supported range")
	}
	return nil
}

// canonicalNumber checks a wire number and returns its canonical text.
func canonicalNumber(s string) (string, error) {
	d, err := parseNumber(s)
	if err != nil {
		return "", err
	}
	if err := checkRange(d); err != nil {
		return "", err
	}
	return d.Text('f'), nil
}

func mustNumber(s string) *apd.Decimal {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		return apd.New(0, 0)
	}
	return d
}

// compareNumbers compares two canonical numbers numerically.
func compareNumbers(a, b string) int {
	return mustNumber(a).Cmp(mustNumber(b))
}

// addNumbers computes a+b (sub: a-b) at 38 digits and checks the result
// is storable.
func addNumbers(a, b string, sub bool) (string, error) {
	x, y := mustNumber(a), mustNumber(b)
	var r apd.Decimal
	var cond apd.Condition
	var err error
	if sub {
		cond, err = numCtx.Sub(&r, x, y)
	} else {
		cond, err = numCtx.Add(&r, x, y)
	}
	if err != nil {
		return "", validationf("A value provided cannot be converted into a number")
	}
	if cond.Inexact() {
		return "", validationf("Number overflow. Attempting to store a number with magnitude larger than supported range")
	}
	if err := checkRange(&r); err != nil {
		return "", err
	}
	return r.Text('f'), nil
}

// numberSize is a number's size as DynamoDB counts it: one byte per two
// significant digits, plus one.
func numberSize(s string) int {
	d := mustNumber(s)
	d.Reduce(d)
	n := int(d.NumDigits())
	return (n+1)/2 + 1
}

// appendNumberKey appends an order-preserving encoding of a canonical
// number: a sign class, the adjusted exponent and the digits, each
// inverted for negatives, and a terminator, so byte order is numeric
// order and the encoding is prefix-free.
func appendNumberKey(dst []byte, s string) []byte {
	d := mustNumber(s)
	d.Reduce(d)
	if d.IsZero() {
		return append(dst, 0x02)
	}
	digits := d.Coeff.String()
	adj := int(d.Exponent) + len(digits) // value = 0.d1d2... x 10^adj
	e := uint16(adj + 1000)              //nolint:gosec // adj is within ±200 for a checked number
	if d.Negative {
		dst = append(dst, 0x01, ^byte(e>>8), ^byte(e&0xFF))
		for i := 0; i < len(digits); i++ {
			dst = append(dst, ^digits[i])
		}
		return append(dst, 0xFF)
	}
	dst = append(dst, 0x03, byte(e>>8), byte(e&0xFF))
	dst = append(dst, digits...)
	return append(dst, 0x00)
}
