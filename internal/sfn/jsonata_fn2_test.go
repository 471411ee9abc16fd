package sfn

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// evalJSONata evaluates one expression as a state's field would.
func evalJSONata(t *testing.T, src string) (any, error) {
	t.Helper()
	x, err := compileJSONata("{% " + src + " %}")
	if err != nil {
		return nil, err
	}
	env := &jenv{vars: &scope{}, rand: func() uint64 { return 1 }, now: time.Unix(1700000000, 0)}
	return x.eval(env, "Output")
}

// TestJSONata2Functions: the JSONata 2.0 functions the library lacks,
// with the cases of jsonata-js's own test suite (groups
// function-formatInteger and function-parseInteger) and our bounds.
// want is the result as JSON, "undefined", or "!" plus part of the
// States.QueryEvaluationError's cause.
func TestJSONata2Functions(t *testing.T) {
	t.Parallel()
	cases := []struct{ expr, want string }{
		// jsonata-js test suite, function-formatInteger and function-parseInteger.
		{"$formatInteger(undefined, '0')", "undefined"},
		{"$formatInteger(123, '000')", "\"123\""},
		{"$formatInteger(123, '0000')", "\"0123\""},
		{"$formatInteger(-3, '0000')", "\"-0003\""},
		{"$formatInteger(1234, '0;c')", "\"1234\""},
		{"$formatInteger(1234, '###0')", "\"1234\""},
		{"$formatInteger(12, '###0')", "\"12\""},
		{"$formatInteger(12.6, '###0')", "\"12\""},
		{"$formatInteger(123, '000;o')", "\"123rd\""},
		{"$formatInteger(1, '0;o')", "\"1st\""},
		{"$formatInteger(28, '#0;o')", "\"28th\""},
		{"$formatInteger(1234, '###0;o')", "\"1234th\""},
		{"$formatInteger(12, '###0;o')", "\"12th\""},
		{"$formatInteger(12340, '###١')", "\"١٢٣٤٠\""},
		{"$formatInteger(12340, '###０')", "\"１２３４０\""},
		{"$formatInteger(12340, '##0０')", "!"},
		{"$formatInteger(12, '#,##0')", "\"12\""},
		{"$formatInteger(1200, '#,##0')", "\"1,200\""},
		{"$formatInteger(120000, '#,##0')", "\"120,000\""},
		{"$formatInteger(12345678, '#,##0')", "\"12,345,678\""},
		{"$formatInteger(1234567890, '#,##0')", "\"1,234,567,890\""},
		{"$formatInteger(1234567890, '#,###,##0')", "\"1,234,567,890\""},
		{"$formatInteger(1234567890, '#:###,##0')", "\"1234:567,890\""},
		{"$formatInteger(1234567890, '##,##,##0')", "\"12345,67,890\""},
		{"$formatInteger(0, 'I')", "\"\""},
		{"$formatInteger(1984, 'I')", "\"MCMLXXXIV\""},
		{"$formatInteger(99, 'i')", "\"xcix\""},
		{"$formatInteger(12, 'w')", "\"twelve\""},
		{"$formatInteger(20, 'w')", "\"twenty\""},
		{"$formatInteger(34, 'w')", "\"thirty-four\""},
		{"$formatInteger(99, 'W')", "\"NINETY-NINE\""},
		{"$formatInteger(100, 'w')", "\"one hundred\""},
		{"$formatInteger(555, 'W')", "\"FIVE HUNDRED AND FIFTY-FIVE\""},
		{"$formatInteger(555, 'Ww')", "\"Five Hundred and Fifty-Five\""},
		{"$formatInteger(919, 'w')", "\"nine hundred and nineteen\""},
		{"$formatInteger(730, 'w')", "\"seven hundred and thirty\""},
		{"$formatInteger(1000, 'w')", "\"one thousand\""},
		{"$formatInteger(3730, 'w')", "\"three thousand, seven hundred and thirty\""},
		{"$formatInteger(327730, 'w')", "\"three hundred and twenty-seven thousand, seven hundred and thirty\""},
		{"$formatInteger(4327730, 'w')", "\"four million, three hundred and twenty-seven thousand, seven hundred and thirty\""},
		{"$formatInteger(1000000000001, 'w')", "\"one trillion and one\""},
		{"$formatInteger(1234567890123, 'w')", "\"one trillion, two hundred and thirty-four billion, five hundred and sixty-seven million, eight hundred and ninety thousand, one hundred and twenty-three\""},
		{"$formatInteger(1000000000000000, 'w')", "\"one thousand trillion\""},
		{"$formatInteger(1e+46, 'w')", "\"ten billion trillion trillion trillion\""},
		{"$formatInteger(1234567890123456, 'w')", "\"one thousand, two hundred and thirty-four trillion, five hundred and sixty-seven billion, eight hundred and ninety million, one hundred and twenty-three thousand, four hundred and fifty-six\""},
		{"$formatInteger(12, 'w;o')", "\"twelfth\""},
		{"$formatInteger(20, 'w;o')", "\"twentieth\""},
		{"$formatInteger(34, 'w;o')", "\"thirty-fourth\""},
		{"$formatInteger(99, 'W;o')", "\"NINETY-NINTH\""},
		{"$formatInteger(100, 'w;o')", "\"one hundredth\""},
		{"$formatInteger(555, 'W;o')", "\"FIVE HUNDRED AND FIFTY-FIFTH\""},
		{"$formatInteger(919, 'w;o')", "\"nine hundred and nineteenth\""},
		{"$formatInteger(730, 'w;o')", "\"seven hundred and thirtieth\""},
		{"$formatInteger(1000, 'w;o')", "\"one thousandth\""},
		{"$formatInteger(3731, 'w;o')", "\"three thousand, seven hundred and thirty-first\""},
		{"$formatInteger(327713, 'w;o')", "\"three hundred and twenty-seven thousand, seven hundred and thirteenth\""},
		{"$formatInteger(4327732, 'w;o')", "\"four million, three hundred and twenty-seven thousand, seven hundred and thirty-second\""},
		{"$formatInteger(1000000000001, 'w;o')", "\"one trillion and first\""},
		{"$formatInteger(1, 'A')", "\"A\""},
		{"$formatInteger(12, 'a')", "\"l\""},
		{"$formatInteger(26, 'a')", "\"z\""},
		{"$formatInteger(27, 'a')", "\"aa\""},
		{"$formatInteger(300, 'A')", "\"KN\""},
		{"$formatInteger(123456, 'A')", "\"FZPH\""},
		{"$formatInteger(123456, 'α')", "!"},
		{"$parseInteger(undefined, '0')", "undefined"},
		{"$parseInteger('123', '000')", "123"},
		{"$parseInteger('0123', '0000')", "123"},
		{"$parseInteger('1234', '0')", "1234"},
		{"$parseInteger('1234', '###0')", "1234"},
		{"$parseInteger('12', '###0')", "12"},
		{"$parseInteger('123rd', '000;o')", "123"},
		{"$parseInteger('1st', '0;o')", "1"},
		{"$parseInteger('28th', '#0;o')", "28"},
		{"$parseInteger('1234th', '###0;o')", "1234"},
		{"$parseInteger('12th', '###0;o')", "12"},
		{"$parseInteger('١٢٣٤٠', '###١')", "12340"},
		{"$parseInteger('１２３４０', '###０')", "12340"},
		{"$parseInteger('12', '#,##0')", "12"},
		{"$parseInteger('1,200', '#,##0')", "1200"},
		{"$parseInteger('12,345,678', '#,##0')", "12345678"},
		{"$parseInteger('1,234,567,890', '#,##0')", "1234567890"},
		{"$parseInteger('1,234,567,890', '#,###,##0')", "1234567890"},
		{"$parseInteger('1234:567,890', '#:###,##0')", "1234567890"},
		{"$parseInteger('12345,67,890', '##,##,##0')", "1234567890"},
		{"$parseInteger('', 'I')", "0"},
		{"$parseInteger('MCMLXXXIV', 'I')", "1984"},
		{"$parseInteger('xcix', 'i')", "99"},
		{"$parseInteger('twelve', 'w')", "12"},
		{"$parseInteger('twenty', 'w')", "20"},
		{"$parseInteger('thirty-four', 'w')", "34"},
		{"$parseInteger('NINETY-NINE', 'W')", "99"},
		{"$parseInteger('one hundred', 'w')", "100"},
		{"$parseInteger('FIVE HUNDRED AND FIFTY-FIVE', 'W')", "555"},
		{"$parseInteger('Five Hundred and Fifty-Five', 'Ww')", "555"},
		{"$parseInteger('nine hundred and nineteen', 'w')", "919"},
		{"$parseInteger('seven hundred and thirty', 'w')", "730"},
		{"$parseInteger('one thousand', 'w')", "1000"},
		{"$parseInteger('three thousand, seven hundred and thirty', 'w')", "3730"},
		{"$parseInteger('three hundred and twenty-seven thousand, seven hundred and thirty', 'w')", "327730"},
		{"$parseInteger('four million, three hundred and twenty-seven thousand, seven hundred and thirty', 'w')", "4327730"},
		{"$parseInteger('one trillion and one', 'w')", "1000000000001"},
		{"$parseInteger('one trillion, two hundred and thirty-four billion, five hundred and sixty-seven million, eight hundred and ninety thousand, one hundred and twenty-three', 'w')", "1234567890123"},
		{"$parseInteger('one thousand trillion', 'w')", "1000000000000000"},
		{"$parseInteger('ten billion trillion trillion trillion', 'w')", "1e+46"},
		{"$parseInteger('twelfth', 'w;o')", "12"},
		{"$parseInteger('twentieth', 'w;o')", "20"},
		{"$parseInteger('thirty-fourth', 'w;o')", "34"},
		{"$parseInteger('NINETY-NINTH', 'W;o')", "99"},
		{"$parseInteger('one hundredth', 'w;o')", "100"},
		{"$parseInteger('FIVE HUNDRED AND FIFTY-FIFTH', 'W;o')", "555"},
		{"$parseInteger('nine hundred and nineteenth', 'w;o')", "919"},
		{"$parseInteger('seven hundred and thirtieth', 'w;o')", "730"},
		{"$parseInteger('Seven Hundred and Thirty-Third', 'Ww;o')", "733"},
		{"$parseInteger('one thousandth', 'w;o')", "1000"},
		{"$parseInteger('three thousand, seven hundred and thirty-first', 'w;o')", "3731"},
		{"$parseInteger('three hundred and twenty-seven thousand, seven hundred and thirteenth', 'w;o')", "327713"},
		{"$parseInteger('four million, three hundred and twenty-seven thousand, seven hundred and thirty-second', 'w;o')", "4327732"},
		{"$parseInteger('one trillion and first', 'w;o')", "1000000000001"},
		{"$parseInteger('A', 'A')", "1"},
		{"$parseInteger('l', 'a')", "12"},
		{"$parseInteger('z', 'a')", "26"},
		{"$parseInteger('aa', 'a')", "27"},
		{"$parseInteger('KN', 'A')", "300"},
		{"$parseInteger('FZPH', 'A')", "123456"},
		{"$parseInteger('50', '#')", "!"},

		// Beyond the suite.
		{"$formatInteger(-1234.5, '#,##0')", `"-1,235"`},
		{"$formatInteger(12, '#:###,##0')", `"12"`},
		{"$formatInteger(1234, '#:###,##0')", `"1,234"`},
		{"$formatInteger(11, '0;o')", `"11th"`},
		{"$formatInteger(112, '0;o')", `"112th"`},
		{"$formatInteger(22, '0;o')", `"22nd"`},
		{"$formatInteger(0, 'w;o')", `"zeroth"`},
		{"$formatInteger(0, 'a')", `""`},
		{"$formatInteger(7, '0001')", `"0007"`},
		{"$formatInteger(1e300, 'I')", "!roman numerals would be longer"},
		{"$formatInteger(1, $pad('', 2000, '0'))", "!picture is longer than 1024 bytes"},
		{"$formatInteger(1, '#')", "!as a sequence"},
		{"$formatInteger(1, '')", "!as a sequence"},
		{"$parseInteger('-1,200', '#,##0')", "-1200"},
		{"$parseInteger('12a', '0')", "!does not match the picture"},
		{"$parseInteger('', '0')", "!does not match the picture"},
		{"$parseInteger('one zillion', 'w')", "!is not a number word"},
		{"$parseInteger('MCMZ', 'I')", "!does not match the picture"},
		{"$parseInteger('A1', 'A')", "!does not match the picture"},
		{"$parseInteger($formatInteger(987654321, 'w'), 'w')", "987654321"},
		{"$base64encode('myuser:mypass')", `"bXl1c2VyOm15cGFzcw=="`},
		{"$base64decode('bXl1c2VyOm15cGFzcw==')", `"myuser:mypass"`},
		{"$base64decode('bXl1c2VyOm15cGFzcw')", `"myuser:mypass"`},
		{"$base64decode($base64encode('café'))", `"café"`},
		{"$base64encode(undefined)", "undefined"},
		{"$base64decode('*not base64*')", "!is not base64"},
		{"($a := {'x': [1, {'y': 2}]}; $b := $clone($a); [$b, $b = $a])", `[{"x":[1,{"y":2}]},true]`},
		{"$clone({'a': 1}).a", "1"},
		{"$clone(undefined)", "undefined"},
		{"($a := [1..1000]; $clone($map([1..1000], function() { $a })))", "!larger than"},
		{"$formatInteger(5, 'w') & '-' & $parseInteger('V', 'I')", `"five-5"`},
	}
	for _, c := range cases {
		got, err := evalJSONata(t, c.expr)
		switch {
		case c.want == "undefined":
			if err == nil || !strings.Contains(err.Error(), "undefined") {
				t.Errorf("%s = %v, %v; want undefined", c.expr, got, err)
			}
		case strings.HasPrefix(c.want, "!"):
			var f *Failure
			if !errors.As(err, &f) || f.Name != ErrQueryEvaluationError || !strings.Contains(f.Cause, c.want[1:]) {
				t.Errorf("%s = %v, %v; want States.QueryEvaluationError with %q", c.expr, got, err, c.want[1:])
			}
		default:
			if err != nil {
				t.Errorf("%s: %v", c.expr, err)
				continue
			}
			var want, have any
			b, _ := json.Marshal(got)
			if err := json.Unmarshal([]byte(c.want), &want); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal(b, &have)
			if !reflect.DeepEqual(have, want) {
				t.Errorf("%s = %s, want %s", c.expr, b, c.want)
			}
		}
	}
}

// TestJSONata2Registration: an expression registers only the 2.0
// functions it names (as it does Step Functions' own).
func TestJSONata2Registration(t *testing.T) {
	t.Parallel()
	for src, want := range map[string][]string{
		"$formatInteger(1, '0')":               {"formatInteger"},
		"$base64decode($base64encode('a'))":    {"base64decode", "base64encode"},
		"$uppercase('a')":                      nil,
		"$clone({}) ~> $string()":              {"__string", "clone"},
		"$parseInteger('1', '0') + $random(1)": {"parseInteger", "random"},
	} {
		x, err := compileJSONata("{% " + src + " %}")
		if err != nil {
			t.Fatal(err)
		}
		got := slices.Clone(x.uses)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s uses %v, want %v", src, got, want)
		}
	}
}
