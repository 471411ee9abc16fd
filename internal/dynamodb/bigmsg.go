package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
)

// Requests and answers larger than one backbone message (NATS's
// max_payload: 8 MiB embedded, 1 MiB by default on an external NATS; a
// BatchWriteItem may carry 16 MB, a BatchGetItem answer as much) travel
// between a forwarding node and the table node in pieces:
//
//	forwarder                                   table node
//	  piece(id, 0) ─────────────────────────►  held (ack)
//	  ...
//	  last piece(id, n-1), target, host ────►  whole body: run
//	  ◄──── status, first piece of the answer, More: id', length
//	  fetch(id', offset) ───────────────────►  piece of the answer
//
// Pieces are held at most bigHold unread and bigBodies at a time; a
// request is run only once its last piece has arrived, so a request cut
// off midway was not run.

const (
	hdrPiece = "Nimbus-Ddb-Piece" // "<id> <index>": a request piece
	hdrMore  = "Nimbus-Ddb-More"  // "<id> <length>": the answer has more pieces
	hdrFetch = "Nimbus-Ddb-Fetch" // "<id> <offset>": a piece of an answer

	bigHold   = time.Minute
	bigBodies = 8
)

// bigStore holds request bodies being assembled and answers being read.
type bigStore struct {
	mu    sync.Mutex
	items map[string]*bigItem // guarded by mu
}

type bigItem struct {
	data  []byte
	next  int // the next piece's index (requests)
	timer *time.Timer
}

func (s *bigStore) init() {
	s.mu.Lock()
	if s.items == nil {
		s.items = map[string]*bigItem{}
	}
	s.mu.Unlock()
}

// add appends piece index to body id.
func (s *bigStore) add(id string, index int, piece []byte) error {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.items[id]
	if it == nil {
		if index != 0 || len(s.items) >= bigBodies {
			return errors.New("piece refused")
		}
		it = &bigItem{}
		s.items[id] = it
		it.timer = time.AfterFunc(bigHold, func() { s.take(id) })
	}
	if index != it.next || len(it.data)+len(piece) > maxRequestBody {
		delete(s.items, id)
		it.timer.Stop()
		return errors.New("piece out of order or body too large")
	}
	it.data = append(it.data, piece...)
	it.next++
	it.timer.Reset(bigHold)
	return nil
}

// keep holds an answer to be read in pieces.
func (s *bigStore) keep(data []byte) (string, bool) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) >= bigBodies {
		return "", false
	}
	id := uuid.NewString()
	s.items[id] = &bigItem{data: data, timer: time.AfterFunc(bigHold, func() { s.take(id) })}
	return id, true
}

// take removes and returns item id.
func (s *bigStore) take(id string) *bigItem {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.items[id]
	if it != nil {
		delete(s.items, id)
		it.timer.Stop()
	}
	return it
}

// piece returns the answer's bytes from off (at most n), removing the
// answer once read to its end.
func (s *bigStore) piece(id string, off, n int) ([]byte, bool) {
	s.init()
	s.mu.Lock()
	it := s.items[id]
	if it == nil || off < 0 || off > len(it.data) {
		s.mu.Unlock()
		return nil, false
	}
	end := min(off+n, len(it.data))
	b := it.data[off:end]
	it.timer.Reset(bigHold)
	s.mu.Unlock()
	if end == len(it.data) {
		s.take(id)
	}
	return b, true
}

func splitRef(v string) (string, int, bool) {
	id, n, ok := strings.Cut(v, " ")
	i, err := strconv.Atoi(n)
	return id, i, ok && err == nil && i >= 0
}

// pieceSize is the most body one message carries.
func (p *peer) pieceSize() int { return int(p.nc.MaxPayload()) - forwardHeadroom }

// serveBig answers the messages of a large request or answer (on the
// table node); it returns the whole body of a request whose last piece
// m is, or handled = true when m needs nothing more.
func (p *peer) serveBig(m *nats.Msg) (body []byte, handled bool) {
	r := nats.NewMsg(m.Reply)
	if v := m.Header.Get(hdrFetch); v != "" {
		id, off, ok := splitRef(v)
		if b, found := p.big.piece(id, off, p.pieceSize()); ok && found {
			r.Data = b
		} else {
			r.Header.Set(hdrErrType, "gone")
		}
		_ = m.RespondMsg(r)
		return nil, true
	}
	v := m.Header.Get(hdrPiece)
	if v == "" {
		return m.Data, false
	}
	id, index, ok := splitRef(v)
	if m.Header.Get(hdrTarget) != "" { // the last piece
		it := p.big.take(id)
		if !ok || it == nil || it.next != index {
			r.Header.Set(hdrErrType, "pieces missing")
			_ = m.RespondMsg(r)
			return nil, true
		}
		return append(it.data, m.Data...), false
	}
	if !ok || p.big.add(id, index, m.Data) != nil {
		r.Header.Set(hdrErrType, "piece refused")
	}
	_ = m.RespondMsg(r)
	return nil, true
}

// answerBig sends an answer too large for one message: its first piece,
// the rest kept to be fetched.
func (p *peer) answerBig(r *nats.Msg, body []byte) bool {
	id, ok := p.big.keep(body)
	if !ok {
		return false
	}
	r.Header.Set(hdrMore, id+" "+strconv.Itoa(len(body)))
	r.Data = body[:p.pieceSize()]
	return true
}

// errNotRun: the table node refused a request's piece, so the request
// was not run (sent again after a takeover).
var errNotRun = errors.New("not run")

// request sends a request to node home, in pieces if it is larger than
// one message, and reads an answer in pieces. The answer is nil with
// errNotRun (or nats.ErrNoResponders) when the request surely did not run.
func (p *peer) request(ctx context.Context, home, target, host string, body []byte) (*nats.Msg, error) {
	subj := nodeSubject(home)
	size := p.pieceSize()
	var id string
	index := 0
	if len(body) > size {
		id = uuid.NewString()
		for ; len(body) > size; index++ {
			m := nats.NewMsg(subj)
			m.Header.Set(hdrPiece, id+" "+strconv.Itoa(index))
			m.Data = body[:size]
			r, err := p.nc.RequestMsgWithContext(ctx, m)
			if err != nil {
				if errors.Is(err, nats.ErrNoResponders) {
					return nil, err
				}
				return nil, fmt.Errorf("%w: %w", errNotRun, err)
			}
			if r.Header.Get(hdrNotHome) != "" || r.Header.Get(hdrErrType) != "" {
				return nil, errNotRun
			}
			body = body[size:]
		}
	}
	m := nats.NewMsg(subj)
	m.Header.Set(hdrTarget, target)
	m.Header.Set(hdrHost, host)
	if id != "" {
		m.Header.Set(hdrPiece, id+" "+strconv.Itoa(index))
	}
	m.Data = body
	r, err := p.nc.RequestMsgWithContext(ctx, m)
	if err == nil && id != "" && r.Header.Get(hdrStatus) == "" && r.Header.Get(hdrNotHome) == "" {
		return nil, errNotRun // the table node lacked the earlier pieces: not run
	}
	if err != nil || r.Header.Get(hdrMore) == "" {
		return r, err
	}
	aid, total, ok := splitRef(r.Header.Get(hdrMore))
	if !ok || total > 2*maxRequestBody {
		return nil, errors.New("bad answer")
	}
	whole := append(make([]byte, 0, total), r.Data...)
	for len(whole) < total {
		f := nats.NewMsg(subj)
		f.Header.Set(hdrFetch, aid+" "+strconv.Itoa(len(whole)))
		pr, err := p.nc.RequestMsgWithContext(ctx, f)
		if err != nil {
			return nil, err
		}
		if pr.Header.Get(hdrErrType) != "" || len(pr.Data) == 0 {
			return nil, errors.New("answer pieces lost")
		}
		whole = append(whole, pr.Data...)
	}
	r.Data = whole
	return r, nil
}
