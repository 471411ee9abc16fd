package apigw

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"net/http"
	"sync/atomic"
)

// API Gateway bounds a WebSocket client's frames (32 KB) as well as its
// messages (128 KB). coder/websocket hands out whole messages and bounds
// only their size (SetReadLimit), so the frame limit is enforced beneath
// it: the upgrade's connection is hijacked through frameConn, which reads
// the frame headers of the client's byte stream as coder/websocket
// consumes it and reports the first frame whose payload exceeds the
// limit. The connection is then closed with 1009 and the message that
// frame belongs to is not routed.
//
// frameConn reads ahead of coder/websocket by at most one network read,
// so a message that arrived in the same read as an oversized frame's
// header may be dropped with it (docs/design/websockets.md).

// frameLimitWriter is the upgrade's ResponseWriter: websocket.Accept
// hijacks the connection through it.
type frameLimitWriter struct {
	http.ResponseWriter
	fc *frameConn
}

// Hijack hijacks the client's connection and reads it through fc,
// including what net/http had buffered.
func (w *frameLimitWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	b, _ := brw.Peek(brw.Reader.Buffered())
	w.fc.Conn, w.fc.pending = nc, bytes.Clone(b)
	brw.Reader.Reset(w.fc)
	return w.fc, brw, nil
}

// frameConn is a client connection whose incoming frame sizes are
// watched. Read is called by the connection's one reader at a time
// (coder/websocket's read lock); over may be read by anyone.
type frameConn struct {
	net.Conn
	limit  uint64
	onOver func() // called once, from Read, when a frame exceeds limit

	pending []byte // bytes net/http had buffered before the hijack
	frames  frameScanner
	over    atomic.Bool
}

func (f *frameConn) Read(p []byte) (int, error) {
	var n int
	var err error
	if len(f.pending) > 0 {
		n = copy(p, f.pending)
		f.pending = f.pending[n:]
	} else {
		n, err = f.Conn.Read(p)
	}
	if !f.over.Load() && f.frames.scan(p[:n], f.limit) {
		f.over.Store(true)
		if f.onOver != nil {
			f.onOver()
		}
	}
	return n, err
}

// frameScanner follows the frame boundaries of a WebSocket byte stream
// (RFC 6455 section 5.2) fed in pieces of any size.
type frameScanner struct {
	hdr    [14]byte // the header being read
	hn     int      // bytes of hdr read
	need   int      // the header's length, once its second byte is read
	remain uint64   // payload bytes of the current frame still to come
	frames int      // complete headers seen
}

// scan consumes b and reports whether a frame header in it announces a
// payload above limit. After that it stops scanning.
func (s *frameScanner) scan(b []byte, limit uint64) bool {
	for len(b) > 0 {
		if s.remain > 0 {
			n := uint64(len(b))
			if n > s.remain {
				n = s.remain
			}
			s.remain -= n
			b = b[n:]
			continue
		}
		s.hdr[s.hn] = b[0]
		s.hn++
		b = b[1:]
		if s.hn == 2 {
			s.need = 2
			switch s.hdr[1] & 0x7f {
			case 126:
				s.need += 2
			case 127:
				s.need += 8
			}
			if s.hdr[1]&0x80 != 0 {
				s.need += 4
			}
		}
		if s.hn < 2 || s.hn < s.need {
			continue
		}
		var size uint64
		switch l := s.hdr[1] & 0x7f; l {
		case 126:
			size = uint64(binary.BigEndian.Uint16(s.hdr[2:4]))
		case 127:
			size = binary.BigEndian.Uint64(s.hdr[2:10])
		default:
			size = uint64(l)
		}
		s.hn, s.need, s.remain = 0, 0, size
		s.frames++
		if size > limit {
			return true
		}
	}
	return false
}
