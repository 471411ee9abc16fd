package sfn

import (
	"strings"
	"testing"
)

func TestDefCache(t *testing.T) {
	def := `{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}`
	c := newDefCache(2 * len(def))
	a, err := c.parse(def, false)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := c.parse(def, false); b != a {
		t.Error("the same text was parsed again")
	}
	if b, _ := c.parse(def, true); b == a {
		t.Error("an EXPRESS machine got the STANDARD parse")
	}
	// A third text goes past the budget: an older one is forgotten.
	other := strings.Replace(def, `"P"`, `"Q"`, 2)
	if _, err := c.parse(other, false); err != nil {
		t.Fatal(err)
	}
	if c.bytes > c.max || len(c.m) != 2 {
		t.Errorf("%d bytes in %d entries, budget %d", c.bytes, len(c.m), c.max)
	}
	// A definition that does not parse is refused every time, not kept.
	if _, err := c.parse(`{"StartAt": "X", "States": {}}`, false); err == nil {
		t.Error("a bad definition parsed")
	}
	if len(c.m) != 2 {
		t.Errorf("%d entries after a refused definition", len(c.m))
	}
}
