package s3

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

func encodeToken(after string) string { return base64.RawURLEncoding.EncodeToString([]byte(after)) }

func decodeToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return string(b), err
}

func parseMaxKeys(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// listParams are the parameters of one listing page.
type listParams struct {
	prefix, delimiter string
	after             string // list keys greater than this
	maxKeys           int
}

// listEntry is one key of a listing.
type listEntry struct {
	key string
	om  *objectMeta
}

// listPage is what one listing page holds.
type listPage struct {
	objects   []listEntry
	prefixes  []string
	truncated bool
	// last is the last key or common prefix returned (the next page
	// starts after it).
	last string
}

// prefixEnd is the smallest string greater than every string starting
// with p ("" when there is none: p is all 0xff).
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// list reads one page of a bucket's keys in order: a seek to the start
// and a scan that skips each common prefix with one more seek, so a page
// costs its own size whatever the bucket holds.
func (m *metaDB) list(bucket string, p listParams) (*listPage, error) {
	page := &listPage{}
	if p.maxKeys == 0 {
		return page, nil
	}
	err := m.db.View(func(tx *bolt.Tx) error {
		b := objectsOf(tx, bucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		start := p.prefix
		if p.after >= start {
			start = p.after
		}
		k, v := c.Seek([]byte(start))
		n := 0
		for k != nil {
			key := string(k)
			if key == p.after {
				k, v = c.Next()
				continue
			}
			if !strings.HasPrefix(key, p.prefix) {
				break
			}
			if p.delimiter != "" {
				if i := strings.Index(key[len(p.prefix):], p.delimiter); i >= 0 {
					cp := key[:len(p.prefix)+i+len(p.delimiter)]
					if cp != p.after { // else the page before ended on it
						if n == p.maxKeys {
							page.truncated = true
							return nil
						}
						page.prefixes = append(page.prefixes, cp)
						page.last = cp
						n++
					}
					end := prefixEnd(cp)
					if end == "" {
						break
					}
					k, v = c.Seek([]byte(end))
					continue
				}
			}
			if n == p.maxKeys {
				page.truncated = true
				return nil
			}
			var om objectMeta
			if err := json.Unmarshal(v, &om); err != nil {
				return err
			}
			page.objects = append(page.objects, listEntry{key: key, om: &om})
			page.last = key
			n++
			k, v = c.Next()
		}
		return nil
	})
	return page, err
}

type listedObject struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
	ChecksumAlg  string `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType string `xml:"ChecksumType,omitempty"`
	Owner        *owner `xml:"Owner,omitempty"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// listQuery reads the parameters shared by both list versions.
func listQuery(q url.Values) (listParams, bool, error) {
	p := listParams{prefix: q.Get("prefix"), delimiter: q.Get("delimiter"), maxKeys: 1000}
	if v := q.Get("max-keys"); v != "" {
		n, err := parseMaxKeys(v)
		if err != nil || n < 0 {
			return p, false, invalidArgument("Provided max-keys not an integer or within integer range").with("ArgumentName", "max-keys").with("ArgumentValue", v)
		}
		p.maxKeys = min(n, 1000)
	}
	enc := q.Get("encoding-type")
	if enc != "" && enc != "url" {
		return p, false, invalidArgument("Invalid Encoding Method specified in Request").with("ArgumentName", "encoding-type")
	}
	return p, enc == "url", nil
}

// s3Escape is S3's encoding-type=url: every byte but unreserved ones and
// '/' percent-encoded.
func s3Escape(s string, on bool) string {
	if !on {
		return s
	}
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

func (s *Service) listed(page *listPage, enc, withOwner bool) ([]listedObject, []commonPrefix) {
	objs := make([]listedObject, 0, len(page.objects))
	for _, e := range page.objects {
		lo := listedObject{Key: s3Escape(e.key, enc), LastModified: e.om.Modified.Format(timeFormatXML), ETag: `"` + e.om.ETag + `"`,
			Size: e.om.Size, StorageClass: "STANDARD"}
		if e.om.ChecksumAlg != "" {
			lo.ChecksumAlg, lo.ChecksumType = upperAlg(e.om.ChecksumAlg), e.om.ChecksumType
		}
		if withOwner {
			o := s.owner()
			lo.Owner = &o
		}
		objs = append(objs, lo)
	}
	cps := make([]commonPrefix, 0, len(page.prefixes))
	for _, p := range page.prefixes {
		cps = append(cps, commonPrefix{Prefix: s3Escape(p, enc)})
	}
	return objs, cps
}

func (s *Service) listObjectsV2(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) error {
	if _, err := s.localBucket(r.Context(), bucket); err != nil {
		return err
	}
	p, enc, err := listQuery(q)
	if err != nil {
		return err
	}
	p.after = q.Get("start-after")
	tok := q.Get("continuation-token")
	if q.Has("continuation-token") {
		a, err := decodeToken(tok)
		if err != nil || tok == "" {
			return invalidArgument("The continuation token provided is incorrect").with("ArgumentName", "continuation-token")
		}
		p.after = max(a, p.after)
	}
	page, err := s.meta.list(bucket, p)
	if err != nil {
		return err
	}
	objs, cps := s.listed(page, enc, q.Get("fetch-owner") == "true")
	out := struct {
		XMLName               xml.Name       `xml:"ListBucketResult"`
		Xmlns                 string         `xml:"xmlns,attr"`
		Name                  string         `xml:"Name"`
		Prefix                string         `xml:"Prefix"`
		Delimiter             string         `xml:"Delimiter,omitempty"`
		MaxKeys               int            `xml:"MaxKeys"`
		EncodingType          string         `xml:"EncodingType,omitempty"`
		KeyCount              int            `xml:"KeyCount"`
		IsTruncated           bool           `xml:"IsTruncated"`
		ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
		NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
		StartAfter            string         `xml:"StartAfter,omitempty"`
		Contents              []listedObject `xml:"Contents"`
		CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
	}{Xmlns: xmlns, Name: bucket, Prefix: s3Escape(p.prefix, enc), Delimiter: s3Escape(p.delimiter, enc), MaxKeys: p.maxKeys,
		KeyCount: len(objs) + len(cps), IsTruncated: page.truncated, ContinuationToken: tok,
		StartAfter: s3Escape(q.Get("start-after"), enc), Contents: objs, CommonPrefixes: cps}
	if enc {
		out.EncodingType = "url"
	}
	if page.truncated {
		out.NextContinuationToken = encodeToken(page.last)
	}
	return writeXML(w, http.StatusOK, out)
}

func (s *Service) listObjectsV1(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) error {
	if _, err := s.localBucket(r.Context(), bucket); err != nil {
		return err
	}
	p, enc, err := listQuery(q)
	if err != nil {
		return err
	}
	p.after = q.Get("marker")
	page, err := s.meta.list(bucket, p)
	if err != nil {
		return err
	}
	objs, cps := s.listed(page, enc, true)
	out := struct {
		XMLName        xml.Name       `xml:"ListBucketResult"`
		Xmlns          string         `xml:"xmlns,attr"`
		Name           string         `xml:"Name"`
		Prefix         string         `xml:"Prefix"`
		Marker         string         `xml:"Marker"`
		NextMarker     string         `xml:"NextMarker,omitempty"`
		Delimiter      string         `xml:"Delimiter,omitempty"`
		MaxKeys        int            `xml:"MaxKeys"`
		EncodingType   string         `xml:"EncodingType,omitempty"`
		IsTruncated    bool           `xml:"IsTruncated"`
		Contents       []listedObject `xml:"Contents"`
		CommonPrefixes []commonPrefix `xml:"CommonPrefixes"`
	}{Xmlns: xmlns, Name: bucket, Prefix: s3Escape(p.prefix, enc), Marker: s3Escape(p.after, enc), Delimiter: s3Escape(p.delimiter, enc),
		MaxKeys: p.maxKeys, IsTruncated: page.truncated, Contents: objs, CommonPrefixes: cps}
	if enc {
		out.EncodingType = "url"
	}
	if page.truncated && p.delimiter != "" {
		out.NextMarker = s3Escape(page.last, enc)
	}
	return writeXML(w, http.StatusOK, out)
}
