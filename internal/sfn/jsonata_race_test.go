package sfn

import (
	"sync"
	"testing"
	"time"
)

// TestJSONataConcurrentEvaluations: expressions calling the library's
// built-ins evaluate at once from several goroutines, as a Map's
// iterations do (the race detector failed this before the evaluations
// were serialised).
func TestJSONataConcurrentEvaluations(t *testing.T) {
	x, err := compileJSONata(`{% $uppercase("a") & $string($count([1, 2])) & $substring("abc", 1) %}`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				env := &jenv{vars: &scope{}, rand: func() uint64 { return 1 }, now: time.Unix(1700000000, 0)}
				v, err := x.eval(env, "Output")
				if err != nil || v != "A2bc" {
					t.Errorf("eval: %v, %v", v, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
