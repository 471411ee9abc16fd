package s3

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/sigv4"
)

// Limits of the aws-chunked decoder: a chunk header line, the trailing
// headers, and one chunk (SDKs send 64 KiB to 8 MiB chunks).
const (
	maxChunkLine = 4096
	maxTrailers  = 16
	maxChunkSize = 64 << 20
)

var errIncompleteBody = errorf(http.StatusBadRequest, "IncompleteBody",
	"The request body terminated unexpectedly")

func chunkSignatureMismatch() *Error {
	return errorf(http.StatusForbidden, "SignatureDoesNotMatch",
		"The request signature we calculated does not match the signature you provided. Check your key and signing method.")
}

func malformedChunk(what string) *Error {
	return invalidRequest("The aws-chunked body is malformed: %s.", what)
}

// chunkedReader decodes an aws-chunked body (the STREAMING modes of
// x-amz-content-sha256):
//
//	<hex size>[;chunk-signature=<64 hex>]\r\n<data>\r\n ... 0[;chunk-signature=...]\r\n
//	[<trailer>:<value>\r\n ... [x-amz-trailer-signature:<64 hex>\r\n]]\r\n
//
// verifying each chunk's signature (chained from the seed) and the
// trailers' when p signs them. Its errors are *Error; a body that fails is
// never stored, since the caller commits only after a clean EOF.
type chunkedReader struct {
	br       *bufio.Reader
	p        *sigv4.S3Payload
	signed   bool
	trailers bool
	prev     string // the last verified signature

	left     int64     // bytes left in the current chunk
	chunkSig string    // the current chunk's declared signature
	h        hash.Hash // the current chunk's SHA-256
	done     bool
	err      error
	// Trailer holds the trailing headers, lower-case names, after EOF.
	Trailer http.Header
}

func newChunkedReader(r io.Reader, p *sigv4.S3Payload) *chunkedReader {
	c := &chunkedReader{br: bufio.NewReaderSize(r, 32<<10), p: p, signed: p.Signed(),
		trailers: p.Mode == sigv4.StreamingPayloadTrailer || p.Mode == sigv4.StreamingUnsignedTrailer,
		prev:     p.Seed, Trailer: http.Header{}}
	if c.signed {
		c.h = sha256.New()
	}
	return c
}

func (c *chunkedReader) Read(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		if err := c.nextChunk(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.br.Read(b)
	c.left -= int64(n)
	if c.signed {
		c.h.Write(b[:n])
	}
	if err != nil && (!errors.Is(err, io.EOF) || c.left > 0) {
		c.err = readErr(err)
		return n, c.err
	}
	if c.left == 0 {
		if err := c.endChunk(); err != nil {
			c.err = err
			return n, err
		}
	}
	return n, nil
}

// readErr is the client error of a failed body read.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errIncompleteBody
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return entityTooLarge()
	}
	return errIncompleteBody
}

// line reads one CRLF-terminated line (at most maxChunkLine bytes).
func (c *chunkedReader) line() (string, error) {
	var buf []byte
	for {
		frag, err := c.br.ReadSlice('\n')
		buf = append(buf, frag...)
		if len(buf) > maxChunkLine {
			return "", malformedChunk("a chunk header or trailer line is too long")
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(buf) == 0 && errors.Is(err, io.EOF) {
			return "", io.EOF
		}
		return "", readErr(err)
	}
	s := string(buf)
	if !strings.HasSuffix(s, "\r\n") {
		return "", malformedChunk("a line does not end with CRLF")
	}
	return s[:len(s)-2], nil
}

// nextChunk reads a chunk header; the last one (size 0) ends the body.
func (c *chunkedReader) nextChunk() error {
	ln, err := c.line()
	if errors.Is(err, io.EOF) {
		return errIncompleteBody
	}
	if err != nil {
		return err
	}
	sizeHex, ext, _ := strings.Cut(ln, ";")
	size, perr := strconv.ParseInt(sizeHex, 16, 64)
	if perr != nil || size < 0 || sizeHex == "" || len(sizeHex) > 16 {
		return malformedChunk("a chunk size is not hexadecimal")
	}
	if size > maxChunkSize {
		return malformedChunk("a chunk is larger than 64 MiB")
	}
	c.chunkSig = ""
	if c.signed {
		v, ok := strings.CutPrefix(ext, "chunk-signature=")
		if !ok || len(v) != 64 {
			return malformedChunk("a chunk has no chunk-signature")
		}
		c.chunkSig = v
		c.h.Reset()
	}
	c.left = size
	if size == 0 {
		if err := c.verifyChunk(); err != nil {
			return err
		}
		c.done = true
		return c.readTrailers()
	}
	return nil
}

// endChunk reads the CRLF after a chunk's data and checks its signature.
func (c *chunkedReader) endChunk() error {
	ln, err := c.line()
	if errors.Is(err, io.EOF) {
		return errIncompleteBody
	}
	if err != nil {
		return err
	}
	if ln != "" {
		return malformedChunk("chunk data is longer than its declared size")
	}
	return c.verifyChunk()
}

func (c *chunkedReader) verifyChunk() error {
	if !c.signed {
		return nil
	}
	sts := c.p.ChunkStringToSign(c.prev, hex.EncodeToString(c.h.Sum(nil)))
	if !c.p.VerifyChunk(sts, c.chunkSig) {
		return chunkSignatureMismatch()
	}
	c.prev = c.chunkSig
	return nil
}

// readTrailers reads what follows the last chunk: the trailing headers
// (trailer modes), their signature (signed trailer mode), and the final
// CRLF (which some clients omit).
func (c *chunkedReader) readTrailers() error {
	var canon bytes.Buffer
	trailerSig := ""
	for i := 0; ; i++ {
		ln, err := c.line()
		if errors.Is(err, io.EOF) && (i > 0 || !c.trailers) {
			break // no final CRLF
		}
		if errors.Is(err, io.EOF) {
			return errIncompleteBody
		}
		if err != nil {
			return err
		}
		if ln == "" {
			break
		}
		if i >= maxTrailers || !c.trailers {
			return malformedChunk("unexpected data after the last chunk")
		}
		name, val, ok := strings.Cut(ln, ":")
		if !ok {
			return malformedChunk("a trailer is not name:value")
		}
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.TrimSpace(val)
		if name == "x-amz-trailer-signature" {
			trailerSig = val
			continue
		}
		c.Trailer.Set(name, val)
		canon.WriteString(name + ":" + val + "\n")
	}
	if c.signed && c.p.Mode == sigv4.StreamingPayloadTrailer {
		sum := sha256.Sum256(canon.Bytes())
		if !c.p.VerifyChunk(c.p.TrailerStringToSign(c.prev, hex.EncodeToString(sum[:])), trailerSig) {
			return chunkSignatureMismatch()
		}
	}
	return nil
}
