package pool

import (
	"bytes"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/function"
)

// FuzzLogCapture feeds function output (untrusted) in arbitrary chunks and
// checks that every byte comes out once, in order, as lines, and that the
// tail stays bounded and is a suffix of the log.
func FuzzLogCapture(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), uint8(3))
	f.Add([]byte("no newline"), uint8(1))
	f.Add([]byte("\n\n\n"), uint8(0))
	f.Add(bytes.Repeat([]byte("0123456789abcdef\n"), 600), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var out bytes.Buffer
		c := &logCapture{fnLog: &lockedWriter{w: &out}}
		step := int(chunk) + 1
		for i := 0; i < len(data); i += step {
			c.consumeLocked(data[i:min(i+step, len(data))])
			if len(c.tail) > 2*function.MaxLogTail {
				t.Fatalf("tail grew to %d bytes", len(c.tail))
			}
		}
		c.flushPartialLocked()
		want := data
		if len(data) > 0 && data[len(data)-1] != '\n' {
			want = append(bytes.Clone(data), '\n')
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("function log %q, want %q", out.Bytes(), want)
		}
		if !bytes.HasSuffix(want, c.tail) {
			t.Fatalf("tail %q is not a suffix of the log", c.tail)
		}
		if len(want) <= function.MaxLogTail && !bytes.Equal(c.tail, want) {
			t.Fatalf("tail %q, want the whole log %q", c.tail, want)
		}
	})
}
