package apigw

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// frame builds a masked client frame header announcing n payload bytes,
// followed by the payload.
func frame(n int) []byte {
	var b []byte
	switch {
	case n < 126:
		b = []byte{0x82, 0x80 | byte(n)}
	case n <= 0xffff:
		b = []byte{0x82, 0x80 | 126, 0, 0}
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b = []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	b = append(b, 1, 2, 3, 4) // mask key
	return append(b, bytes.Repeat([]byte{'x'}, n)...)
}

func TestFrameScanner(t *testing.T) {
	const limit = 32 << 10
	ok := bytes.Join([][]byte{frame(0), frame(125), frame(126), frame(limit), frame(70000)[:20]}, nil)
	for _, step := range []int{1, 3, 7, 4096, len(ok)} {
		var s frameScanner
		over := false
		for i := 0; i < len(ok); i += step {
			over = over || s.scan(ok[i:min(i+step, len(ok))], limit)
		}
		if !over || s.frames != 5 {
			t.Fatalf("step %d: over %v after %d frames, want the fifth (70000 bytes) over", step, over, s.frames)
		}
		s = frameScanner{}
		if s.scan(ok[:len(ok)-20], limit) || s.frames != 4 || s.remain != 0 {
			t.Fatalf("frames up to the limit: %d frames, remain %d", s.frames, s.remain)
		}
	}
	// An unmasked 64-bit length (what a hostile client might announce).
	var s frameScanner
	if !s.scan([]byte{0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, limit) {
		t.Fatal("a 2^63-byte frame passed")
	}
}

// FuzzFrameScanner feeds the same stream whole and in pieces: the frame
// boundaries found must not depend on how the network splits it.
func FuzzFrameScanner(f *testing.F) {
	f.Add(frame(10), uint8(1))
	f.Add(append(frame(200), frame(40000)[:30]...), uint8(5))
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4}, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		const limit = 1000
		var whole, pieces frameScanner
		overWhole := whole.scan(b, limit)
		n := max(int(step), 1)
		overPieces := false
		for i := 0; i < len(b) && !overPieces; i += n {
			overPieces = pieces.scan(b[i:min(i+n, len(b))], limit)
		}
		if overWhole != overPieces || whole.frames != pieces.frames {
			t.Fatalf("whole: over %v frames %d; in pieces of %d: over %v frames %d", overWhole, whole.frames, n, overPieces, pieces.frames)
		}
		if !overWhole && (whole.remain != pieces.remain || whole.hn != pieces.hn) {
			t.Fatalf("state differs: remain %d/%d, header %d/%d", whole.remain, pieces.remain, whole.hn, pieces.hn)
		}
	})
}

// TestWebSocketFrameLimit: a 100 KB message in 25 KB frames is routed;
// a message in one 40 KB frame closes the connection with 1009.
func TestWebSocketFrameLimit(t *testing.T) {
	h := newWSHarness(t, WSOptions{})
	disconnected := h.connectHandlers(1)
	h.fns.fns["default"] = answer(map[string]any{"statusCode": 200})
	h.fns.fns["echo"] = func(p []byte) (*invoke.Result, error) {
		var ev struct{ Body string }
		_ = json.Unmarshal(p, &ev)
		b, _ := json.Marshal(map[string]any{"statusCode": 200, "body": strconv.Itoa(len(ev.Body))})
		return &invoke.Result{Payload: b}, nil
	}
	id := h.chatAPI()
	c, _, err := h.dial(id, "/prod")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := `{"action":"echo","pad":"` + strings.Repeat("p", 100<<10) + `"}`
	w, err := c.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(msg); i += 25 << 10 { // coder/websocket writes one frame per Write
		if _, err := w.Write([]byte(msg[i:min(i+25<<10, len(msg))])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != strconv.Itoa(len(msg)) {
		t.Fatalf("a 100 KB message in 25 KB frames: echo answered %q", got)
	}

	big := `{"action":"echo","pad":"` + strings.Repeat("p", 40<<10) + `"}`
	if err := c.Write(ctx, websocket.MessageText, []byte(big)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("a 40 KB frame: read = %v, want close 1009", err)
	}
	select {
	case ev := <-disconnected:
		if rc := ev["requestContext"].(map[string]any); rc["disconnectStatusCode"] != float64(1009) {
			t.Fatalf("DISCONNECT requestContext = %v", rc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("$disconnect did not run")
	}
	if n := h.fns.count("echo"); n != 1 {
		t.Fatalf("echo ran %d times: the oversized frame's message was routed", n)
	}
}
