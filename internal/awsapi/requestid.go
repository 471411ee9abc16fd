package awsapi

import (
	"crypto/rand"
	"sync"
)

// HeaderRequestID is the response header AWS SDKs read the request id from.
const HeaderRequestID = "X-Amzn-RequestId"

// NewRequestID returns a fresh request id in AWS's format (a random,
// version 4 UUID: 8-4-4-4-12 lower-case hex digits). Every API answer
// carries one, so the randomness (crypto/rand, as google/uuid's) is drawn
// in blocks for many ids at once, per processor, and the id is formatted
// without intermediate allocations.
func NewRequestID() string {
	p := idPool.Get().(*idRandom)
	if p.off+16 > len(p.buf) {
		_, _ = rand.Read(p.buf[:]) // never fails (crypto/rand crashes the program rather)
		p.off = 0
	}
	var u [16]byte
	copy(u[:], p.buf[p.off:p.off+16])
	clear(p.buf[p.off : p.off+16]) // an id's bytes are not kept once used
	p.off += 16
	idPool.Put(p)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant 10 (RFC 4122)
	var s [36]byte
	const digits = "0123456789abcdef"
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = digits[b>>4], digits[b&15]
		j += 2
	}
	return string(s[:])
}

// idRandom is a block of random bytes for request ids.
type idRandom struct {
	buf [16 * 32]byte
	off int
}

var idPool = sync.Pool{New: func() any { return &idRandom{off: 16 * 32} }}
