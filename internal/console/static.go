package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
)

// web holds the pages: plain HTML, CSS and JavaScript modules, and the
// vendored uPlot (web/vendor, with its licence). Nothing is built.
//
//go:embed web
var web embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body, gz []byte
	ctype    string
	etag     string
}

var (
	assetsOnce sync.Once
	assets     map[string]*asset
)

// loadAssets reads and compresses the embedded files once, on first use.
func loadAssets() map[string]*asset {
	assetsOnce.Do(func() {
		assets = map[string]*asset{}
		_ = fs.WalkDir(web, "web", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := web.ReadFile(p)
			if err != nil {
				return err
			}
			var z bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
			_, _ = zw.Write(b)
			_ = zw.Close()
			sum := sha256.Sum256(b)
			ct := mime.TypeByExtension(path.Ext(p))
			switch path.Ext(p) {
			case ".js":
				ct = "text/javascript; charset=utf-8"
			case ".md", ".txt", "":
				ct = "text/plain; charset=utf-8"
			}
			assets[strings.TrimPrefix(p, "web/")] = &asset{body: b, gz: z.Bytes(), ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
			return nil
		})
	})
	return assets
}

// serveStatic serves an embedded file; any other path is the page (the
// console's views are chosen by the URL's fragment).
func serveStatic(w http.ResponseWriter, r *http.Request, rel string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	as := loadAssets()
	a, ok := as[rel]
	if !ok {
		if strings.Contains(rel, ".") {
			http.NotFound(w, r)
			return
		}
		a = as["index.html"]
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Set("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	_, _ = w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, e := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		e, q, _ := strings.Cut(strings.TrimSpace(e), ";")
		if strings.EqualFold(e, "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
