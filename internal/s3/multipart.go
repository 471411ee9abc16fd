package s3

import (
	"crypto/md5" //nolint:gosec // G501: S3's multipart ETag is MD5 by definition
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// S3's multipart limits.
const (
	maxParts    = 10000
	minPartSize = 5 << 20
)

func partKey(n int) []byte { return []byte(fmt.Sprintf("p%05d", n)) }

// upload reads an upload in progress of t (NoSuchUpload otherwise).
func (m *metaDB) upload(id string, t target) (*uploadMeta, map[int]*partMeta, error) {
	var um *uploadMeta
	parts := map[int]*partMeta{}
	err := m.db.View(func(tx *bolt.Tx) error {
		ub := tx.Bucket(rootUploads).Bucket([]byte(id))
		if ub == nil {
			return noSuchUpload(id)
		}
		um = &uploadMeta{}
		if err := json.Unmarshal(ub.Get([]byte("meta")), um); err != nil {
			return fmt.Errorf("decode upload %s: %w", id, err)
		}
		if um.Bucket != t.bucket || um.Key != t.key {
			return noSuchUpload(id)
		}
		return ub.ForEach(func(k, v []byte) error {
			if k[0] != 'p' {
				return nil
			}
			n, _ := strconv.Atoi(string(k[1:]))
			var pm partMeta
			if err := json.Unmarshal(v, &pm); err != nil {
				return err
			}
			parts[n] = &pm
			return nil
		})
	})
	return um, parts, err
}

func (s *Service) createUpload(w http.ResponseWriter, r *http.Request, t target) error {
	b, err := s.localBucket(r.Context(), t.bucket)
	if err != nil {
		return err
	}
	om, err := objectHeaders(r.Header)
	if err != nil {
		return err
	}
	if om.ACL, err = s.requestACL(r.Header, b, aclObject); err != nil {
		return err
	}
	rule, err := requestEncryption(r.Header, b)
	if err != nil {
		return err
	}
	if _, om.SSE, err = s.newDataKey(r.Context(), t.bucket, t.key, rule); err != nil {
		return err
	}
	alg := strings.ToLower(r.Header.Get("x-amz-checksum-algorithm"))
	if alg != "" && (newChecksum(alg) == nil || alg == "md5") {
		return invalidRequest("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	}
	typ := strings.ToUpper(r.Header.Get("x-amz-checksum-type"))
	switch {
	case typ != "" && alg == "":
		return invalidRequest("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
	case typ == "" && alg == "crc64nvme", typ == "" && alg == "":
		typ = "FULL_OBJECT"
	case typ == "":
		typ = "COMPOSITE"
	case typ != "COMPOSITE" && typ != "FULL_OBJECT":
		return invalidRequest("Value for x-amz-checksum-type header is invalid.")
	}
	if (alg == "crc64nvme" && typ == "COMPOSITE") || ((alg == "sha1" || alg == "sha256") && typ == "FULL_OBJECT") {
		return invalidRequest("The %s checksum algorithm does not support the %s checksum type.", upperAlg(alg), typ)
	}
	id := newID()
	um := uploadMeta{Bucket: t.bucket, Key: t.key, Initiated: s.now(), Object: om, ChecksumAlg: alg, ChecksumType: typ}
	v, _ := json.Marshal(um)
	err = s.meta.db.Batch(func(tx *bolt.Tx) error {
		ub, err := tx.Bucket(rootUploads).CreateBucketIfNotExists([]byte(id))
		if err != nil {
			return err
		}
		return ub.Put([]byte("meta"), v)
	})
	if err != nil {
		return fmt.Errorf("create upload: %w", err)
	}
	if alg != "" {
		w.Header().Set("x-amz-checksum-algorithm", upperAlg(alg))
		w.Header().Set("x-amz-checksum-type", typ)
	}
	sseHeaders(w.Header(), om.SSE)
	return writeXML(w, http.StatusOK, struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		Xmlns    string   `xml:"xmlns,attr"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		UploadID string   `xml:"UploadId"`
	}{Xmlns: xmlns, Bucket: t.bucket, Key: t.key, UploadID: id})
}

func partNumber(q url.Values) (int, error) {
	n, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil || n < 1 || n > maxParts {
		return 0, invalidArgument("Part number must be an integer between 1 and 10000, inclusive").
			with("ArgumentName", "partNumber").with("ArgumentValue", q.Get("partNumber"))
	}
	return n, nil
}

func (s *Service) uploadPart(w http.ResponseWriter, r *http.Request, t target, q url.Values) error {
	if _, err := s.localBucket(r.Context(), t.bucket); err != nil {
		return err
	}
	n, err := partNumber(q)
	if err != nil {
		return err
	}
	id := q.Get("uploadId")
	um, _, err := s.meta.upload(id, t)
	if err != nil {
		return err
	}
	var dk []byte
	if um.Object != nil && um.Object.SSE != nil {
		// On AWS too a part of an SSE-KMS upload needs kms:Decrypt.
		if dk, err = s.openDataKey(r.Context(), t.bucket, t.key, um.Object.SSE); err != nil {
			return err
		}
	}
	pm := &partMeta{Modified: s.now()}
	var copyRes bool
	if r.Header.Get("x-amz-copy-source") != "" {
		if err := s.copyPart(r, pm, dk); err != nil {
			return err
		}
		copyRes = true
	} else {
		b, err := newBody(r, payloadOf(r), s.opts.MaxObjectSize)
		if err != nil {
			return err
		}
		if b.alg != "" && um.ChecksumAlg != "" && b.alg != um.ChecksumAlg {
			return invalidRequest("Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum Type: %s", um.ChecksumAlg, b.alg)
		}
		if b.alg == "" && um.ChecksumAlg != "" {
			b.alg, b.sum = um.ChecksumAlg, newChecksum(um.ChecksumAlg)
		}
		fid, size, iv, err := s.writeIn(b, dk)
		if err != nil {
			return bodyError(err)
		}
		pm.File, pm.Size, pm.ETag, pm.Checksum, pm.IV = fid, size, b.ETag(), b.Checksum, iv
	}
	var replaced string
	err = s.meta.db.Batch(func(tx *bolt.Tx) error {
		replaced = ""
		ub := tx.Bucket(rootUploads).Bucket([]byte(id))
		if ub == nil {
			return noSuchUpload(id)
		}
		var old partMeta
		if v := ub.Get(partKey(n)); v != nil && json.Unmarshal(v, &old) == nil {
			replaced = old.File
		}
		v, _ := json.Marshal(pm)
		return ub.Put(partKey(n), v)
	})
	if err != nil {
		s.removeBodies(pm.File)
		return err
	}
	if replaced != "" && replaced != pm.File {
		s.removeBodies(replaced)
	}
	if um.Object != nil {
		sseHeaders(w.Header(), um.Object.SSE)
	}
	if copyRes {
		res := struct {
			XMLName      xml.Name `xml:"CopyPartResult"`
			Xmlns        string   `xml:"xmlns,attr"`
			ETag         string   `xml:"ETag"`
			LastModified string   `xml:"LastModified"`
			checksumFields
		}{Xmlns: xmlns, ETag: `"` + pm.ETag + `"`, LastModified: pm.Modified.Format(timeFormatXML)}
		return writeXML(w, http.StatusOK, res)
	}
	w.Header().Set("ETag", `"`+pm.ETag+`"`)
	if um.ChecksumAlg != "" {
		w.Header().Set(checksumHeader(um.ChecksumAlg), pm.Checksum)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// copyPart fills pm with a copy of (a range of) the copy source,
// encrypted with dk.
func (s *Service) copyPart(r *http.Request, pm *partMeta, dk []byte) error {
	from, err := s.openSource(r, sourcePart)
	if err != nil {
		return err
	}
	defer func() { _ = from.body.Close() }()
	h := md5.New() //nolint:gosec // G401: S3's ETag
	fid, n, iv, err := s.writeIn(io.TeeReader(from.body, h), dk)
	if err != nil {
		return fmt.Errorf("copy part: %w", err)
	}
	pm.File, pm.Size, pm.ETag, pm.IV = fid, n, hex.EncodeToString(h.Sum(nil)), iv
	return nil
}

type completeRequest struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
		checksumFields
	} `xml:"Part"`
}

func (s *Service) completeUpload(w http.ResponseWriter, r *http.Request, t target, q url.Values) error {
	b, err := s.localBucket(r.Context(), t.bucket)
	if err != nil {
		return err
	}
	cond, err := writeConditionOf(r.Header)
	if err != nil {
		return err
	}
	id := q.Get("uploadId")
	um, parts, err := s.meta.upload(id, t)
	if err != nil {
		return err
	}
	var req completeRequest
	if err := readXML(r, &req, false); err != nil {
		return err
	}
	if len(req.Parts) == 0 {
		return malformedXML()
	}
	invalidPart := func(n int) *Error {
		return errorf(http.StatusBadRequest, "InvalidPart",
			"One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.").
			with("UploadId", id).with("PartNumber", strconv.Itoa(n))
	}
	var dk []byte
	if um.Object != nil && um.Object.SSE != nil {
		if dk, err = s.openDataKey(r.Context(), t.bucket, t.key, um.Object.SSE); err != nil {
			return err
		}
	}
	var files []io.Closer
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	etags := md5.New() //nolint:gosec // G401: S3's multipart ETag
	var readers []io.Reader
	var sums []string
	var sizes []int64
	var total int64
	for i, p := range req.Parts {
		if i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber {
			return errorf(http.StatusBadRequest, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.").
				with("UploadId", id)
		}
	}
	for i, p := range req.Parts {
		pm := parts[p.PartNumber]
		if pm == nil || strings.Trim(p.ETag, `"`) != pm.ETag {
			return invalidPart(p.PartNumber)
		}
		if i < len(req.Parts)-1 && pm.Size < minPartSize {
			return errorf(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.").
				with("ProposedSize", strconv.FormatInt(pm.Size, 10)).with("MinSizeAllowed", strconv.Itoa(minPartSize)).
				with("PartNumber", strconv.Itoa(p.PartNumber)).with("ETag", pm.ETag)
		}
		raw, _ := hex.DecodeString(pm.ETag)
		etags.Write(raw)
		if dk != nil && pm.IV == nil {
			return fmt.Errorf("part %d of upload %s: stored without encryption", p.PartNumber, id)
		}
		var pdk []byte
		if pm.IV != nil {
			pdk = dk
		}
		f, err := s.openFile(pm.File, pdk, pm.IV)
		if err != nil {
			return fmt.Errorf("open part %d: %w", p.PartNumber, err)
		}
		files = append(files, f)
		readers = append(readers, f)
		sums = append(sums, pm.Checksum)
		sizes = append(sizes, pm.Size)
		total += pm.Size
	}
	var full hash.Hash
	if um.ChecksumAlg != "" && um.ChecksumType == "FULL_OBJECT" {
		full = newChecksum(um.ChecksumAlg)
	}
	src := io.MultiReader(readers...)
	if full != nil {
		src = io.TeeReader(src, full)
	}
	fid, n, iv, err := s.writeIn(src, dk)
	if err != nil {
		return fmt.Errorf("assemble upload %s: %w", id, err)
	}
	om := *um.Object
	om.File, om.Size, om.Modified, om.Parts, om.PartSizes = fid, n, s.now(), len(req.Parts), sizes
	if om.SSE != nil {
		sse := *om.SSE
		sse.IV = iv
		om.SSE = &sse
	}
	om.ETag = hex.EncodeToString(etags.Sum(nil)) + "-" + strconv.Itoa(len(req.Parts))
	if um.ChecksumAlg != "" {
		om.ChecksumAlg, om.ChecksumType = um.ChecksumAlg, um.ChecksumType
		if full != nil {
			om.Checksum = base64.StdEncoding.EncodeToString(full.Sum(nil))
		} else {
			om.Checksum = compositeChecksum(um.ChecksumAlg, sums)
		}
	}
	_ = total
	reqID := awsapi.NewRequestID()
	var replaced []string
	var partFiles []string
	err = s.meta.db.Update(func(tx *bolt.Tx) error {
		ups := tx.Bucket(rootUploads)
		ub := ups.Bucket([]byte(id))
		if ub == nil {
			return noSuchUpload(id)
		}
		old, err := getObject(tx, t.bucket, t.key)
		if err != nil {
			return err
		}
		if err := cond.check(old, t.key); err != nil {
			return err
		}
		partFiles = partFiles[:0]
		_ = ub.ForEach(func(k, v []byte) error {
			var pm partMeta
			if k[0] == 'p' && json.Unmarshal(v, &pm) == nil {
				partFiles = append(partFiles, pm.File)
			}
			return nil
		})
		if err := ups.DeleteBucket([]byte(id)); err != nil {
			return err
		}
		if replaced, err = setCurrent(tx, b, t.key, &om, old); err != nil {
			return err
		}
		return s.recordEvent(tx, b, "ObjectCreated:CompleteMultipartUpload", t.key, &om, reqID, r)
	})
	if err != nil {
		s.removeBodies(fid)
		return err
	}
	s.kick()
	s.removeBodies(partFiles...)
	s.removeBodies(replaced...)
	setVersionHeader(w.Header(), b, &om)
	sseHeaders(w.Header(), om.SSE)
	res := struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		Xmlns    string   `xml:"xmlns,attr"`
		Location string   `xml:"Location"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		ETag     string   `xml:"ETag"`
		checksumFields
	}{Xmlns: xmlns, Location: "/" + t.bucket + "/" + t.key, Bucket: t.bucket, Key: t.key, ETag: `"` + om.ETag + `"`}
	res.set(om.ChecksumAlg, om.Checksum, om.ChecksumType)
	return writeXML(w, http.StatusOK, res)
}

func (s *Service) abortUpload(w http.ResponseWriter, r *http.Request, t target, q url.Values) error {
	if _, err := s.localBucket(r.Context(), t.bucket); err != nil {
		return err
	}
	id := q.Get("uploadId")
	if _, _, err := s.meta.upload(id, t); err != nil {
		return err
	}
	var files []string
	err := s.meta.db.Update(func(tx *bolt.Tx) error {
		ups := tx.Bucket(rootUploads)
		ub := ups.Bucket([]byte(id))
		if ub == nil {
			return noSuchUpload(id)
		}
		_ = ub.ForEach(func(k, v []byte) error {
			var pm partMeta
			if k[0] == 'p' && json.Unmarshal(v, &pm) == nil {
				files = append(files, pm.File)
			}
			return nil
		})
		return ups.DeleteBucket([]byte(id))
	})
	if err != nil {
		return err
	}
	s.removeBodies(files...)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type listedPart struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	checksumFields
}

func (s *Service) listParts(w http.ResponseWriter, r *http.Request, t target, q url.Values) error {
	if _, err := s.localBucket(r.Context(), t.bucket); err != nil {
		return err
	}
	id := q.Get("uploadId")
	um, parts, err := s.meta.upload(id, t)
	if err != nil {
		return err
	}
	maxN := 1000
	if v := q.Get("max-parts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalidArgument("Provided max-parts not an integer or within integer range").with("ArgumentName", "max-parts")
		}
		maxN = min(n, 1000)
	}
	marker := 0
	if v := q.Get("part-number-marker"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalidArgument("Provided part-number-marker not an integer or within integer range").with("ArgumentName", "part-number-marker")
		}
		marker = n
	}
	nums := make([]int, 0, len(parts))
	for n := range parts {
		if n > marker {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	out := struct {
		XMLName              xml.Name     `xml:"ListPartsResult"`
		Xmlns                string       `xml:"xmlns,attr"`
		Bucket               string       `xml:"Bucket"`
		Key                  string       `xml:"Key"`
		UploadID             string       `xml:"UploadId"`
		PartNumberMarker     int          `xml:"PartNumberMarker"`
		NextPartNumberMarker int          `xml:"NextPartNumberMarker"`
		MaxParts             int          `xml:"MaxParts"`
		IsTruncated          bool         `xml:"IsTruncated"`
		Parts                []listedPart `xml:"Part"`
		Initiator            owner        `xml:"Initiator"`
		Owner                owner        `xml:"Owner"`
		StorageClass         string       `xml:"StorageClass"`
		ChecksumAlgorithm    string       `xml:"ChecksumAlgorithm,omitempty"`
		ChecksumType         string       `xml:"ChecksumType,omitempty"`
	}{Xmlns: xmlns, Bucket: t.bucket, Key: t.key, UploadID: id, PartNumberMarker: marker, MaxParts: maxN,
		Initiator: s.owner(), Owner: s.owner(), StorageClass: "STANDARD"}
	if um.ChecksumAlg != "" {
		out.ChecksumAlgorithm, out.ChecksumType = upperAlg(um.ChecksumAlg), um.ChecksumType
	}
	for _, n := range nums {
		if len(out.Parts) == maxN {
			out.IsTruncated = true
			break
		}
		pm := parts[n]
		lp := listedPart{PartNumber: n, LastModified: pm.Modified.Format(timeFormatXML), ETag: `"` + pm.ETag + `"`, Size: pm.Size}
		lp.set(um.ChecksumAlg, pm.Checksum, "")
		lp.ChecksumType = ""
		out.Parts = append(out.Parts, lp)
		out.NextPartNumberMarker = n
	}
	return writeXML(w, http.StatusOK, out)
}

type listedUpload struct {
	Key          string `xml:"Key"`
	UploadID     string `xml:"UploadId"`
	Initiator    owner  `xml:"Initiator"`
	Owner        owner  `xml:"Owner"`
	StorageClass string `xml:"StorageClass"`
	Initiated    string `xml:"Initiated"`
}

func (s *Service) listUploads(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) error {
	if _, err := s.localBucket(r.Context(), bucket); err != nil {
		return err
	}
	prefix := q.Get("prefix")
	maxN := 1000
	if v := q.Get("max-uploads"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalidArgument("Provided max-uploads not an integer or within integer range").with("ArgumentName", "max-uploads")
		}
		maxN = min(n, 1000)
	}
	keyMarker, idMarker := q.Get("key-marker"), q.Get("upload-id-marker")
	type up struct {
		id string
		um uploadMeta
	}
	var ups []up
	err := s.meta.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(rootUploads)
		return root.ForEachBucket(func(id []byte) error {
			var um uploadMeta
			if json.Unmarshal(root.Bucket(id).Get([]byte("meta")), &um) != nil || um.Bucket != bucket || !strings.HasPrefix(um.Key, prefix) {
				return nil
			}
			if um.Key < keyMarker || (um.Key == keyMarker && (idMarker == "" || string(id) <= idMarker)) {
				return nil
			}
			ups = append(ups, up{id: string(id), um: um})
			return nil
		})
	})
	if err != nil {
		return err
	}
	sort.Slice(ups, func(i, j int) bool {
		if ups[i].um.Key != ups[j].um.Key {
			return ups[i].um.Key < ups[j].um.Key
		}
		return ups[i].um.Initiated.Before(ups[j].um.Initiated)
	})
	out := struct {
		XMLName            xml.Name       `xml:"ListMultipartUploadsResult"`
		Xmlns              string         `xml:"xmlns,attr"`
		Bucket             string         `xml:"Bucket"`
		KeyMarker          string         `xml:"KeyMarker"`
		UploadIDMarker     string         `xml:"UploadIdMarker"`
		NextKeyMarker      string         `xml:"NextKeyMarker,omitempty"`
		NextUploadIDMarker string         `xml:"NextUploadIdMarker,omitempty"`
		Prefix             string         `xml:"Prefix,omitempty"`
		MaxUploads         int            `xml:"MaxUploads"`
		IsTruncated        bool           `xml:"IsTruncated"`
		Uploads            []listedUpload `xml:"Upload"`
	}{Xmlns: xmlns, Bucket: bucket, KeyMarker: keyMarker, UploadIDMarker: idMarker, Prefix: prefix, MaxUploads: maxN}
	for _, u := range ups {
		if len(out.Uploads) == maxN {
			out.IsTruncated = true
			last := out.Uploads[len(out.Uploads)-1]
			out.NextKeyMarker, out.NextUploadIDMarker = last.Key, last.UploadID
			break
		}
		out.Uploads = append(out.Uploads, listedUpload{Key: u.um.Key, UploadID: u.id, Initiator: s.owner(), Owner: s.owner(),
			StorageClass: "STANDARD", Initiated: u.um.Initiated.Format(timeFormatXML)})
	}
	return writeXML(w, http.StatusOK, out)
}
