package kms

import (
	"bytes"
	"testing"
)

// FuzzParseBlob: the ciphertext-blob parser never panics, and what it
// accepts re-assembles to its input.
func FuzzParseBlob(f *testing.F) {
	id := "0b7c6a8e-1f2d-4c3b-9a8e-7d6c5b4a3f21"
	good := append(blobHeader(id), make([]byte, nonceSize+tagSize+5)...)
	f.Add(good)
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 255, 'a'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseBlob(b)
		if err != nil {
			return
		}
		if !bytes.Equal(append(bytes.Clone(p.header), p.sealed...), b) {
			t.Fatalf("parse lost bytes of %x", b)
		}
		if len(p.sealed) < nonceSize+tagSize || p.keyID == "" {
			t.Fatalf("accepted a short blob %x", b)
		}
	})
}

// FuzzEncodeContext: two different contexts never encode alike.
func FuzzEncodeContext(f *testing.F) {
	f.Add("a", "b", "ab", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		a := map[string]string{k1: v1}
		b := map[string]string{k2: v2}
		same := k1 == k2 && v1 == v2
		if bytes.Equal(encodeContext(a), encodeContext(b)) != same {
			t.Fatalf("%q=%q vs %q=%q", k1, v1, k2, v2)
		}
	})
}
