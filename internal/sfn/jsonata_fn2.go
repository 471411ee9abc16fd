package sfn

import (
	"encoding/base64"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	jsonata "github.com/blues/jsonata-go"
	"github.com/blues/jsonata-go/jtypes"
)

// JSONata 2.0 functions github.com/blues/jsonata-go lacks (it implements
// JSONata 1.5's library): $formatInteger and $parseInteger (XPath F&O
// 3.1 format-integer pictures as jsonata-js reads them), $base64encode,
// $base64decode and $clone. They are registered, like the Step
// Functions functions, only in the evaluations whose expression names
// them. $eval is not added: Step Functions does not offer it (its
// guide points to $parse), and it would evaluate code the guard has
// not seen.

// maxIntegerPicture bounds a $formatInteger/$parseInteger picture (in
// bytes); a picture's decimal digits set the output's least width.
const maxIntegerPicture = 1024

// jsonata2Names are the functions jsonata2Functions defines.
var jsonata2Names = map[string]bool{"formatInteger": true, "parseInteger": true, "base64encode": true,
	"base64decode": true, "clone": true}

func jsonata2Functions(env *jenv, field, src string) map[string]jsonata.Extension {
	undefined0 := jtypes.ArgUndefined(0)
	fail := func(format string, args ...any) error { return env.fail(field, src, format, args...) }
	str := func(s string, err error) (string, error) {
		if err != nil {
			return "", err
		}
		if err := env.chargeString(field, src, len(s)); err != nil {
			return "", err
		}
		return s, nil
	}
	return map[string]jsonata.Extension{
		"formatInteger": {Func: func(v float64, picture string) (string, error) {
			p, err := parseIntegerPicture(picture)
			if err != nil {
				return "", fail("$formatInteger: %v", err)
			}
			s, err := p.format(v)
			if err != nil {
				return "", fail("$formatInteger: %v", err)
			}
			return str(s, nil)
		}, UndefinedHandler: undefined0, EvalContextHandler: jtypes.ArgCountEquals(1)},
		"parseInteger": {Func: func(s, picture string) (float64, error) {
			p, err := parseIntegerPicture(picture)
			if err != nil {
				return 0, fail("$parseInteger: %v", err)
			}
			n, err := p.parse(s)
			if err != nil {
				return 0, fail("$parseInteger: %v", err)
			}
			return n, nil
		}, UndefinedHandler: undefined0, EvalContextHandler: jtypes.ArgCountEquals(1)},
		"base64encode": {Func: func(s string) (string, error) {
			// As jsonata-js: each UTF-16 code unit is one byte (its low
			// eight bits), so text beyond Latin-1 does not survive.
			b := make([]byte, 0, len(s))
			for _, r := range s {
				if r > 0xffff {
					hi, lo := utf16Pair(r)
					b = append(b, byte(hi&0xff), byte(lo&0xff))
					continue
				}
				b = append(b, byte(r&0xff))
			}
			if err := env.chargeString(field, src, base64.StdEncoding.EncodedLen(len(b))); err != nil {
				return "", err
			}
			return base64.StdEncoding.EncodeToString(b), nil
		}, UndefinedHandler: undefined0, EvalContextHandler: jtypes.ArgCountEquals(0)},
		"base64decode": {Func: func(s string) (string, error) {
			s = strings.TrimRight(strings.Map(func(r rune) rune {
				switch r {
				case ' ', '\t', '\n', '\r':
					return -1
				case '-':
					return '+'
				case '_':
					return '/'
				}
				return r
			}, s), "=")
			b, err := base64.RawStdEncoding.DecodeString(s)
			if err != nil {
				return "", fail("$base64decode: the string is not base64: %v", err)
			}
			// Each byte is one character (Latin-1), as jsonata-js decodes.
			var out strings.Builder
			out.Grow(len(b))
			for _, c := range b {
				out.WriteRune(rune(c))
			}
			return str(out.String(), nil)
		}, UndefinedHandler: undefined0, EvalContextHandler: jtypes.ArgCountEquals(0)},
		"clone": {Func: func(v any) (any, error) {
			n := jsonSize(reflect.ValueOf(v), maxJSONataString)
			if n > maxJSONataString {
				return nil, fail("$clone's result would be larger than %d bytes", maxJSONataString)
			}
			if err := env.charge(field, src, n); err != nil {
				return nil, err
			}
			c, err := fromJSONata(v)
			if err != nil {
				return nil, fail("$clone: %v", err)
			}
			return toJSONata(c), nil
		}, UndefinedHandler: undefined0, EvalContextHandler: jtypes.ArgCountEquals(0)},
	}
}

func utf16Pair(r rune) (hi, lo uint16) {
	r -= 0x10000
	return uint16(0xd800 + (r>>10)&0x3ff), uint16(0xdc00 + r&0x3ff)
}

type integerKind int

const (
	intDecimal integerKind = iota
	intLetters
	intRoman
	intWords
)

type integerCase int

const (
	caseLower integerCase = iota
	caseUpper
	caseTitle
)

// groupSep is a grouping separator: its character and how many digits
// stand to its right.
type groupSep struct {
	pos int
	ch  string
}

// integerPicture is an analysed format-integer picture.
type integerPicture struct {
	kind     integerKind
	tcase    integerCase
	ordinal  bool
	zero     rune // the decimal digit family's zero
	digits   int  // mandatory digits
	regular  int  // the interval of regular grouping separators (0: irregular)
	regCh    string
	seps     []groupSep // irregular separators, nearest the right first
	sepChars map[string]bool
}

// decimalZeros are the zeros of Unicode's decimal digit families (the
// Basic Multilingual Plane's, as jsonata-js knows them).
var decimalZeros = []rune{0x30, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
	0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0,
	0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10}

func digitZero(r rune) (rune, bool) {
	for _, z := range decimalZeros {
		if r >= z && r <= z+9 {
			return z, true
		}
	}
	return 0, false
}

func parseIntegerPicture(picture string) (*integerPicture, error) {
	if len(picture) > maxIntegerPicture {
		return nil, fmt.Errorf("the picture is longer than %d bytes", maxIntegerPicture)
	}
	p := &integerPicture{}
	primary := picture
	if i := strings.LastIndexByte(picture, ';'); i >= 0 {
		primary = picture[:i]
		p.ordinal = strings.HasPrefix(picture[i+1:], "o")
	}
	switch primary {
	case "A":
		p.kind, p.tcase = intLetters, caseUpper
		return p, nil
	case "a":
		p.kind = intLetters
		return p, nil
	case "I":
		p.kind, p.tcase = intRoman, caseUpper
		return p, nil
	case "i":
		p.kind = intRoman
		return p, nil
	case "W":
		p.kind, p.tcase = intWords, caseUpper
		return p, nil
	case "Ww":
		p.kind, p.tcase = intWords, caseTitle
		return p, nil
	case "w":
		p.kind = intWords
		return p, nil
	}
	// A decimal digit pattern: digits of one family, '#' optional digits,
	// anything else a grouping separator. Positions count from the right.
	p.zero = -1
	pos := 0
	var seps []groupSep
	rs := []rune(primary)
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		if z, ok := digitZero(r); ok {
			if p.zero >= 0 && z != p.zero {
				return nil, fmt.Errorf("in a decimal digit pattern, all digits must be from the same decimal group")
			}
			p.zero = z
			p.digits++
			pos++
			continue
		}
		if r == '#' {
			pos++
			continue
		}
		seps = append(seps, groupSep{pos: pos, ch: string(r)})
	}
	if p.digits == 0 {
		return nil, fmt.Errorf("formatting or parsing an integer as a sequence starting with %q is not supported", primary)
	}
	p.sepChars = map[string]bool{}
	for _, s := range seps {
		p.sepChars[s.ch] = true
	}
	if f := regularInterval(seps); f > 0 {
		p.regular, p.regCh = f, seps[0].ch
	} else {
		p.seps = seps
	}
	return p, nil
}

// regularInterval is the interval of separators that are one character
// at every multiple of one distance, or 0.
func regularInterval(seps []groupSep) int {
	if len(seps) == 0 {
		return 0
	}
	g := 0
	at := map[int]bool{}
	for _, s := range seps {
		if s.ch != seps[0].ch {
			return 0
		}
		g = gcd(g, s.pos)
		at[s.pos] = true
	}
	if g == 0 {
		return 0
	}
	for i := 1; i <= len(seps); i++ {
		if !at[i*g] {
			return 0
		}
	}
	return g
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (p *integerPicture) format(v float64) (string, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "", fmt.Errorf("the number is not finite")
	}
	v = math.Floor(v)
	neg := v < 0
	v = math.Abs(v)
	var s string
	switch p.kind {
	case intLetters:
		s = toLetters(v, p.tcase == caseUpper)
	case intRoman:
		if v/1000 > maxJSONataString {
			return "", fmt.Errorf("%g in roman numerals would be longer than %d bytes", v, maxJSONataString)
		}
		s = toRoman(int64(v))
		if p.tcase == caseUpper {
			s = strings.ToUpper(s)
		}
	case intWords:
		s = toWords(v, p.ordinal)
		switch p.tcase {
		case caseUpper:
			s = strings.ToUpper(s)
		case caseLower:
			s = strings.ToLower(s)
		}
	default:
		s = p.formatDecimal(v)
	}
	if neg {
		s = "-" + s
	}
	return s, nil
}

func (p *integerPicture) formatDecimal(v float64) string {
	digits := []rune(strconv.FormatFloat(v, 'f', 0, 64))
	if pad := p.digits - len(digits); pad > 0 {
		digits = append([]rune(strings.Repeat("0", pad)), digits...)
	}
	if p.zero != '0' {
		for i, d := range digits {
			digits[i] = d - '0' + p.zero
		}
	}
	// Separators are inserted from the left so the positions (counted
	// from the right) of those still to insert stay true; one is only
	// placed with a digit to its left.
	var b strings.Builder
	n := len(digits)
	sepAt := map[int]string{}
	if p.regular > 0 {
		for k := p.regular; k < n; k += p.regular {
			sepAt[k] = p.regCh
		}
	} else {
		for _, s := range p.seps {
			if s.pos > 0 && s.pos < n {
				sepAt[s.pos] += s.ch
			}
		}
	}
	for i, d := range digits {
		if ch, ok := sepAt[n-i]; ok && i > 0 {
			b.WriteString(ch)
		}
		b.WriteRune(d)
	}
	if p.ordinal {
		b.WriteString(ordinalSuffix(v))
	}
	return b.String()
}

func ordinalSuffix(v float64) string {
	last, tens := math.Mod(v, 10), math.Mod(math.Floor(v/10), 10)
	if tens != 1 {
		switch last {
		case 1:
			return "st"
		case 2:
			return "nd"
		case 3:
			return "rd"
		}
	}
	return "th"
}

func toLetters(v float64, upper bool) string {
	a := byte('a')
	if upper {
		a = 'A'
	}
	var out []byte
	for v > 0 {
		out = append(out, byte(math.Mod(v-1, 26))+a)
		v = math.Floor((v - 1) / 26)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

var romanNumerals = []struct {
	v int64
	s string
}{{1000, "m"}, {900, "cm"}, {500, "d"}, {400, "cd"}, {100, "c"}, {90, "xc"}, {50, "l"}, {40, "xl"}, {10, "x"}, {9, "ix"}, {5, "v"}, {4, "iv"}, {1, "i"}}

func toRoman(v int64) string {
	var b strings.Builder
	for _, n := range romanNumerals {
		if c := v / n.v; c > 0 {
			b.WriteString(strings.Repeat(n.s, int(c)))
			v -= c * n.v
		}
	}
	return b.String()
}

var (
	fewWords     = []string{"Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten", "Eleven", "Twelve", "Thirteen", "Fourteen", "Fifteen", "Sixteen", "Seventeen", "Eighteen", "Nineteen"}
	ordinalWords = []string{"Zeroth", "First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth", "Tenth", "Eleventh", "Twelfth", "Thirteenth", "Fourteenth", "Fifteenth", "Sixteenth", "Seventeenth", "Eighteenth", "Nineteenth"}
	decadeWords  = []string{"Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety"}
	magnitudes   = []string{"Thousand", "Million", "Billion", "Trillion"}
)

// toWords spells v in English words, title case ("One Hundred and
// Five"); past the trillions the magnitudes repeat ("Ten Billion
// Trillion").
func toWords(v float64, ordinal bool) string {
	var words func(n float64, prev, ord bool) string
	words = func(n float64, prev, ord bool) string {
		var b strings.Builder
		switch {
		case n <= 19:
			if prev {
				b.WriteString(" and ")
			}
			if ord {
				b.WriteString(ordinalWords[int(n)])
			} else {
				b.WriteString(fewWords[int(n)])
			}
		case n < 100:
			if prev {
				b.WriteString(" and ")
			}
			tens, rem := int(n)/10, int(n)%10
			d := decadeWords[tens-2]
			switch {
			case rem > 0:
				b.WriteString(d + "-" + words(float64(rem), false, ord))
			case ord:
				b.WriteString(d[:len(d)-1] + "ieth")
			default:
				b.WriteString(d)
			}
		case n < 1000:
			if prev {
				b.WriteString(", ")
			}
			b.WriteString(fewWords[int(n)/100] + " Hundred")
			if rem := math.Mod(n, 100); rem > 0 {
				b.WriteString(words(rem, true, ord))
			} else if ord {
				b.WriteString("th")
			}
		default:
			mag := 0
			for mag < len(magnitudes) && n >= math.Pow(10, float64(mag+1)*3) {
				mag++
			}
			factor := math.Pow(10, float64(mag)*3)
			mant := math.Floor(n / factor)
			rem := n - mant*factor
			if prev {
				b.WriteString(", ")
			}
			b.WriteString(words(mant, false, false) + " " + magnitudes[mag-1])
			if rem > 0 {
				b.WriteString(words(rem, true, ord))
			} else if ord {
				b.WriteString("th")
			}
		}
		return b.String()
	}
	return words(v, false, ordinal)
}

// wordValues maps a lower-case number word (cardinal or ordinal) to its
// value.
var wordValues = func() map[string]float64 {
	m := map[string]float64{"hundred": 100, "hundredth": 100}
	for i, w := range fewWords {
		m[strings.ToLower(w)] = float64(i)
		m[strings.ToLower(ordinalWords[i])] = float64(i)
	}
	for i, w := range decadeWords {
		l := strings.ToLower(w)
		m[l] = float64(i+2) * 10
		m[l[:len(l)-1]+"ieth"] = float64(i+2) * 10
	}
	for i, w := range magnitudes {
		l := strings.ToLower(w)
		m[l] = math.Pow(10, float64(i+1)*3)
		m[l+"th"] = m[l]
	}
	return m
}()

var wordSplit = regexp.MustCompile(`,\s|\sand\s|[\s\-]`)

func wordsToNumber(text string) (float64, error) {
	segs := []float64{0}
	for _, part := range wordSplit.Split(strings.ToLower(text), -1) {
		v, ok := wordValues[part]
		if !ok {
			return 0, fmt.Errorf("%q is not a number word", part)
		}
		top := segs[len(segs)-1]
		segs = segs[:len(segs)-1]
		switch {
		case v >= 100:
			segs = append(segs, top*v)
		case top >= 1000:
			segs = append(segs, top, v)
		default:
			segs = append(segs, top+v)
		}
	}
	sum := 0.0
	for _, s := range segs {
		sum += s
	}
	return sum, nil
}

func (p *integerPicture) parse(s string) (float64, error) {
	bad := func() (float64, error) {
		return 0, fmt.Errorf("%q does not match the picture", truncate(s, 64))
	}
	neg := false
	if p.kind == intDecimal && strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	var n float64
	switch p.kind {
	case intLetters:
		a := 'a'
		if p.tcase == caseUpper {
			a = 'A'
		}
		for _, c := range s {
			if c < a || c > a+25 {
				return bad()
			}
			n = n*26 + float64(c-a+1)
		}
	case intRoman:
		values := map[rune]float64{'M': 1000, 'D': 500, 'C': 100, 'L': 50, 'X': 10, 'V': 5, 'I': 1}
		hi := 1.0
		rs := []rune(strings.ToUpper(s))
		for i := len(rs) - 1; i >= 0; i-- {
			v, ok := values[rs[i]]
			if !ok {
				return bad()
			}
			if v < hi {
				n -= v
			} else {
				hi = v
				n += v
			}
		}
	case intWords:
		v, err := wordsToNumber(s)
		if err != nil {
			return 0, err
		}
		n = v
	default:
		if p.ordinal {
			for _, suf := range []string{"st", "nd", "rd", "th"} {
				if t, ok := strings.CutSuffix(s, suf); ok {
					s = t
					break
				}
			}
		}
		var digits strings.Builder
		for _, r := range s {
			if p.sepChars[string(r)] {
				continue
			}
			if r < p.zero || r > p.zero+9 {
				return bad()
			}
			digits.WriteRune(r - p.zero + '0')
		}
		if digits.Len() == 0 {
			return bad()
		}
		v, err := strconv.ParseFloat(digits.String(), 64)
		if err != nil {
			return bad()
		}
		n = v
	}
	if neg {
		n = -n
	}
	return n, nil
}
