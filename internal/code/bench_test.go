package code

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchZip is a package like a Python dependency tree: 2,000 files of
// 4 KiB (half random, half text) in 100 directories, plus a link.
func benchZip(b *testing.B) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var es []entry
	for i := range 2000 {
		data := make([]byte, 4096)
		for j := range data {
			if i%2 == 0 {
				data[j] = byte(rng.Uint32())
			} else {
				data[j] = "abcdefgh \n"[j%10]
			}
		}
		es = append(es, entry{name: fmt.Sprintf("site-packages/p%d/m%d.py", i%100, i), data: string(data)})
	}
	es = append(es, entry{name: "lib64", data: "site-packages", mode: os.ModeSymlink | 0o777})
	return makeZip(b, es...)
}

// BenchmarkValidate reads every entry; BenchmarkUnzippedSize (headers
// only) is the baseline, what upload cost before.
func BenchmarkValidate(b *testing.B) {
	z := benchZip(b)
	b.SetBytes(int64(len(z)))
	for b.Loop() {
		if _, err := Validate(z, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnzippedSize(b *testing.B) {
	z := benchZip(b)
	b.SetBytes(int64(len(z)))
	for b.Loop() {
		if _, err := UnzippedSize(z); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtract compares openat2 with the O_NOFOLLOW walk.
func BenchmarkExtract(b *testing.B) {
	z := benchZip(b)
	for _, walk := range []bool{false, true} {
		b.Run(fmt.Sprintf("walk=%v", walk), func(b *testing.B) {
			forceWalk = walk
			defer func() { forceWalk = false }()
			base := b.TempDir()
			n := 0
			for b.Loop() {
				n++
				if err := Extract(z, filepath.Join(base, fmt.Sprint(n)), 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExtractBaseline writes the same files with os.MkdirAll and
// os.WriteFile by joined path, as the extractor before openat2 did: the
// baseline for BenchmarkExtract.
func BenchmarkExtractBaseline(b *testing.B) {
	z := benchZip(b)
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		b.Fatal(err)
	}
	base := b.TempDir()
	n := 0
	for b.Loop() {
		n++
		dir := filepath.Join(base, fmt.Sprint(n))
		for _, f := range zr.File {
			if !f.Mode().IsRegular() {
				continue
			}
			p := filepath.Join(dir, filepath.FromSlash(f.Name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			rc, err := f.Open()
			if err != nil {
				b.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}
