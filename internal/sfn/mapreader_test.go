package sfn

import (
	"strings"
	"testing"
)

// TestParseItems: the ItemReader's formats, as AWS documents them.
func TestParseItems(t *testing.T) {
	cases := []struct {
		rd   itemReader
		data string
		want string // the items as JSON, or "!" and part of the error
	}{
		{itemReader{inputType: "CSV", headerFirst: true, delimiter: ','}, "name,qty\nbolt,3\n\"nut, hex\",10\n", `[{"name":"bolt","qty":"3"},{"name":"nut, hex","qty":"10"}]`},
		{itemReader{inputType: "CSV", headers: []string{"a", "b"}, delimiter: '|'}, "1|2\n3\n", `[{"a":"1","b":"2"},{"a":"3","b":""}]`},
		{itemReader{inputType: "CSV", headerFirst: true, delimiter: ','}, "a\n1,2\n", "!more than the 1 headers"},
		{itemReader{inputType: "JSON"}, `[{"id": 1}, 2, "x"]`, `[{"id":1},2,"x"]`},
		{itemReader{inputType: "JSON"}, `{"id": 1}`, "!not a JSON array"},
		{itemReader{inputType: "JSONL"}, "{\"id\": 1}\n\n{\"id\": 2}\n", `[{"id":1},{"id":2}]`},
		{itemReader{inputType: "JSONL"}, "{\"id\": 1}\nnope\n", "!line 2 is not JSON"},
	}
	for _, c := range cases {
		items, err := parseItems([]byte(c.data), &c.rd)
		if want, ok := strings.CutPrefix(c.want, "!"); ok {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: %v, want an error with %q", c.data, err, want)
			}
			continue
		}
		if err != nil || encodeJSON(items) != c.want {
			t.Errorf("%q: %s %v, want %s", c.data, encodeJSON(items), err, c.want)
		}
	}
}
