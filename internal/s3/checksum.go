package s3

import (
	"crypto/md5"  //nolint:gosec // G501: S3's ETag and Content-MD5 are MD5 by definition
	"crypto/sha1" //nolint:gosec // G505: S3's SHA1 checksum is SHA-1 by definition
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"strings"
	"sync"
)

// The checksum algorithms of S3's flexible checksums (x-amz-checksum-*),
// by their lower-case names as headers use them.
var checksumAlgorithms = []string{"crc32", "crc32c", "crc64nvme", "sha1", "sha256"}

// crc64NVMETable is CRC-64/NVME's reflected polynomial (0xad93d23594c93659
// bit-reversed); Go's crc64 applies its init and final XOR of all ones.
var crc64NVMETable = sync.OnceValue(func() *crc64.Table { return crc64.MakeTable(0x9a6c9329ac4bc9b5) })

var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

func newChecksum(alg string) hash.Hash {
	switch alg {
	case "crc32":
		return crc32.NewIEEE()
	case "crc32c":
		return crc32.New(castagnoli())
	case "crc64nvme":
		return crc64.New(crc64NVMETable())
	case "sha1":
		return sha1.New() //nolint:gosec // G401: S3's SHA1 checksum
	case "sha256":
		return sha256.New()
	case "md5":
		return md5.New() //nolint:gosec // G401: S3's ETag
	}
	return nil
}

// checksumHeader is the header of an algorithm: x-amz-checksum-crc32 ...
func checksumHeader(alg string) string { return "x-amz-checksum-" + alg }

// upperAlg is the algorithm as S3's ChecksumAlgorithm values spell it.
func upperAlg(alg string) string { return strings.ToUpper(alg) }

// checksumSize is the length of an algorithm's digest in bytes.
func checksumSize(alg string) int {
	switch alg {
	case "crc32", "crc32c":
		return 4
	case "crc64nvme":
		return 8
	case "sha1":
		return 20
	case "sha256":
		return 32
	}
	return 0
}

// validChecksum reports whether v is the base64 of a digest of alg.
func validChecksum(alg, v string) bool {
	b, err := base64.StdEncoding.DecodeString(v)
	return err == nil && len(b) == checksumSize(alg)
}

// compositeChecksum is S3's checksum of a multipart object built from its
// parts' checksums: the algorithm over the concatenated raw digests, and
// "-N".
func compositeChecksum(alg string, parts []string) string {
	h := newChecksum(alg)
	for _, p := range parts {
		b, _ := base64.StdEncoding.DecodeString(p)
		h.Write(b)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + itoa(len(parts))
}

// requestChecksum finds the flexible checksum a request declares: in a
// header (x-amz-checksum-<alg>: value) or announced as a trailer
// (x-amz-trailer: x-amz-checksum-<alg>), or by x-amz-sdk-checksum-algorithm
// / x-amz-checksum-algorithm alone (computed and stored, nothing to
// compare). It returns the algorithm, the value ("" when it comes later,
// in a trailer, or not at all) and whether it is a trailer.
func requestChecksum(h http.Header) (alg, value string, trailer bool, err *Error) {
	for _, a := range checksumAlgorithms {
		if v := h.Get(checksumHeader(a)); v != "" {
			if alg != "" {
				return "", "", false, invalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
			}
			if !validChecksum(a, v) {
				return "", "", false, invalidRequest("Value for %s header is invalid.", checksumHeader(a))
			}
			alg, value = a, v
		}
	}
	if t := strings.ToLower(strings.TrimSpace(h.Get("x-amz-trailer"))); t != "" {
		a, ok := strings.CutPrefix(t, "x-amz-checksum-")
		if !ok || newChecksum(a) == nil || a == "md5" {
			return "", "", false, invalidRequest("The value specified in the x-amz-trailer header is not supported")
		}
		if alg != "" && alg != a {
			return "", "", false, invalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		return a, "", true, nil
	}
	if alg != "" {
		return alg, value, false, nil
	}
	for _, name := range []string{"x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm"} {
		if v := strings.ToLower(h.Get(name)); v != "" {
			if newChecksum(v) == nil || v == "md5" {
				return "", "", false, invalidRequest("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
			}
			return v, "", false, nil
		}
	}
	return "", "", false, nil
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
