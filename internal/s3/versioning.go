package s3

import (
	"encoding/xml"
	"net/http"
	"net/url"
)

// versioningConfiguration is PutBucketVersioning's body and
// GetBucketVersioning's answer.
type versioningConfiguration struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	Xmlns     string   `xml:"xmlns,attr,omitempty"`
	Status    string   `xml:"Status,omitempty"`
	MfaDelete string   `xml:"MfaDelete,omitempty"`
}

// parseVersioning decodes and checks a PutBucketVersioning body.
func parseVersioning(body []byte) (string, error) {
	var c versioningConfiguration
	if err := xml.Unmarshal(body, &c); err != nil { //nolint:gosec // G709: a fixed shape, bounded by maxXMLBody
		return "", malformedXML()
	}
	switch c.MfaDelete {
	case "", "Disabled":
	case "Enabled":
		return "", notImplemented("MFA delete (MfaDelete Enabled)")
	default:
		return "", malformedXML()
	}
	if c.Status != versioningEnabled && c.Status != versioningSuspended {
		return "", malformedXML()
	}
	return c.Status, nil
}

func (s *Service) putVersioning(w http.ResponseWriter, r *http.Request, name string) error {
	body, err := readSmallBody(r, maxXMLBody)
	if err != nil {
		return err
	}
	status, err := parseVersioning(body)
	if err != nil {
		return err
	}
	if err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error { b.Versioning = status; return nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) getVersioning(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.bucket(r.Context(), name)
	if err != nil {
		return err
	}
	return writeXML(w, http.StatusOK, versioningConfiguration{Xmlns: xmlns, Status: b.Versioning})
}

// versionOp serves the object operations that name a version
// (?versionId=): GetObject, HeadObject, DeleteObject, Get/Put/
// DeleteObjectTagging and GetObjectAttributes.
func (s *Service) versionOp(w http.ResponseWriter, r *http.Request, t target, q url.Values) error {
	vid := q.Get("versionId")
	switch {
	case q.Has("tagging") && r.Method == http.MethodPut:
		return s.putObjectTagging(w, r, t, vid)
	case q.Has("tagging") && r.Method == http.MethodGet:
		return s.getObjectTagging(w, r, t, vid)
	case q.Has("tagging") && r.Method == http.MethodDelete:
		return s.deleteObjectTagging(w, r, t, vid)
	case q.Has("attributes") && r.Method == http.MethodGet:
		return s.getObjectAttributes(w, r, t, vid)
	case q.Has("acl") && r.Method == http.MethodGet:
		return s.getObjectACL(w, r, t, vid)
	case q.Has("acl") && r.Method == http.MethodPut:
		return s.putObjectACL(w, r, t, vid)
	case r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodDelete,
		q.Has("tagging") || q.Has("attributes") || q.Has("uploadId"):
		return notImplemented("?versionId on this operation (GetObject, HeadObject, DeleteObject, the object tagging calls " +
			"and GetObjectAttributes take a version)")
	}
	if err := unsupported(q); err != nil {
		return err
	}
	b, err := s.localBucket(r.Context(), t.bucket)
	if err != nil {
		return err
	}
	if !validVersionID(vid) {
		return invalidVersionID()
	}
	if r.Method == http.MethodDelete {
		res, err := s.removeVersion(r, b, t.key, vid)
		if err != nil {
			return err
		}
		res.headers(w.Header())
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	om, _, err := s.meta.version(t.bucket, t.key, vid)
	if err != nil {
		return err
	}
	if om == nil {
		return noSuchVersion(t.key, vid)
	}
	if om.DeleteMarker {
		h := w.Header()
		h.Set("x-amz-delete-marker", "true")
		h.Set("x-amz-version-id", vid)
		h.Set("Last-Modified", om.Modified.UTC().Format(http.TimeFormat))
		h.Set("Allow", "DELETE")
		return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.").
			with("Method", r.Method).with("ResourceType", "DeleteMarker")
	}
	return s.serveObject(w, r, b, t, q, om)
}

type listedVersion struct {
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
	Owner        owner  `xml:"Owner"`
	ChecksumAlg  string `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

type listedMarker struct {
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	Owner        owner  `xml:"Owner"`
}

// versionQuery reads ListObjectVersions' parameters.
func versionQuery(q url.Values) (versionParams, bool, error) {
	lp, enc, err := listQuery(q)
	if err != nil {
		return versionParams{}, false, err
	}
	p := versionParams{prefix: lp.prefix, delimiter: lp.delimiter, maxKeys: lp.maxKeys,
		keyMarker: q.Get("key-marker"), vidMarker: q.Get("version-id-marker")}
	switch {
	case p.vidMarker != "" && p.keyMarker == "":
		return p, false, invalidArgument("A version-id marker cannot be specified without a key marker.").with("ArgumentName", "version-id-marker")
	case p.vidMarker != "" && !validVersionID(p.vidMarker):
		return p, false, invalidVersionID()
	}
	return p, enc, nil
}

func (s *Service) listObjectVersions(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) error {
	if _, err := s.localBucket(r.Context(), bucket); err != nil {
		return err
	}
	p, enc, err := versionQuery(q)
	if err != nil {
		return err
	}
	page := &versionPage{}
	if p.maxKeys > 0 {
		if page, err = s.meta.listVersions(bucket, p); err != nil {
			return err
		}
	}
	out := struct {
		XMLName             xml.Name        `xml:"ListVersionsResult"`
		Xmlns               string          `xml:"xmlns,attr"`
		Name                string          `xml:"Name"`
		Prefix              string          `xml:"Prefix"`
		KeyMarker           string          `xml:"KeyMarker"`
		VersionIDMarker     string          `xml:"VersionIdMarker"`
		NextKeyMarker       string          `xml:"NextKeyMarker,omitempty"`
		NextVersionIDMarker string          `xml:"NextVersionIdMarker,omitempty"`
		MaxKeys             int             `xml:"MaxKeys"`
		Delimiter           string          `xml:"Delimiter,omitempty"`
		EncodingType        string          `xml:"EncodingType,omitempty"`
		IsTruncated         bool            `xml:"IsTruncated"`
		Versions            []listedVersion `xml:"Version"`
		DeleteMarkers       []listedMarker  `xml:"DeleteMarker"`
		CommonPrefixes      []commonPrefix  `xml:"CommonPrefixes"`
	}{Xmlns: xmlns, Name: bucket, Prefix: s3Escape(p.prefix, enc), KeyMarker: s3Escape(p.keyMarker, enc), VersionIDMarker: p.vidMarker,
		MaxKeys: p.maxKeys, Delimiter: s3Escape(p.delimiter, enc), IsTruncated: page.truncated}
	if enc {
		out.EncodingType = "url"
	}
	if page.truncated {
		out.NextKeyMarker, out.NextVersionIDMarker = s3Escape(page.nextKey, enc), page.nextVid
	}
	for _, e := range page.entries {
		mod := e.om.Modified.Format(timeFormatXML)
		if e.om.DeleteMarker {
			out.DeleteMarkers = append(out.DeleteMarkers, listedMarker{Key: s3Escape(e.key, enc), VersionID: versionOf(e.om),
				IsLatest: e.latest, LastModified: mod, Owner: s.owner()})
			continue
		}
		v := listedVersion{Key: s3Escape(e.key, enc), VersionID: versionOf(e.om), IsLatest: e.latest, LastModified: mod,
			ETag: `"` + e.om.ETag + `"`, Size: e.om.Size, StorageClass: "STANDARD", Owner: s.owner()}
		if e.om.ChecksumAlg != "" {
			v.ChecksumAlg, v.ChecksumType = upperAlg(e.om.ChecksumAlg), e.om.ChecksumType
		}
		out.Versions = append(out.Versions, v)
	}
	for _, cp := range page.prefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: s3Escape(cp, enc)})
	}
	return writeXML(w, http.StatusOK, out)
}
