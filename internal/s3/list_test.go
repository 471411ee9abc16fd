package s3

import (
	"encoding/xml"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func openTestMeta(t testing.TB, keys []string) *metaDB {
	t.Helper()
	m, err := openMeta(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	err = m.db.Update(func(tx *bolt.Tx) error {
		for _, k := range keys {
			if err := putObject(tx, "b", k, &objectMeta{File: k}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// naiveList is ListObjectsV2's definition over a sorted key list: every
// key after `after` with the prefix, keys whose rest holds the delimiter
// rolled up into their common prefix, at most maxKeys entries.
func naiveList(keys []string, p listParams) ([]string, []string, bool) {
	var objs, prefixes []string
	n := 0
	for _, k := range keys {
		if k <= p.after || !strings.HasPrefix(k, p.prefix) {
			continue
		}
		entry, isPrefix := k, false
		if p.delimiter != "" {
			if i := strings.Index(k[len(p.prefix):], p.delimiter); i >= 0 {
				entry, isPrefix = k[:len(p.prefix)+i+len(p.delimiter)], true
			}
		}
		if isPrefix && (slices.Contains(prefixes, entry) || entry == p.after) {
			continue
		}
		if n == p.maxKeys {
			return objs, prefixes, true
		}
		if isPrefix {
			prefixes = append(prefixes, entry)
		} else {
			objs = append(objs, entry)
		}
		n++
	}
	return objs, prefixes, false
}

// pageThrough lists every page and returns all entries.
func pageThrough(t testing.TB, m *metaDB, p listParams) ([]string, []string) {
	var objs, prefixes []string
	for range 10000 {
		page, err := m.list("b", p)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.objects {
			objs = append(objs, e.key)
		}
		prefixes = append(prefixes, page.prefixes...)
		if !page.truncated {
			return objs, prefixes
		}
		p.after = page.last
	}
	t.Fatal("listing does not end")
	return nil, nil
}

func TestListPages(t *testing.T) {
	keys := []string{"a", "a/", "a/b", "a/b/c", "a/c", "ab", "b/x", "b/y/z", "c", "c\xff", "\xff\xff/x"}
	m := openTestMeta(t, keys)
	for _, p := range []listParams{
		{maxKeys: 1000}, {maxKeys: 1}, {delimiter: "/", maxKeys: 1}, {prefix: "a/", delimiter: "/", maxKeys: 2},
		{prefix: "a", maxKeys: 3}, {delimiter: "b", maxKeys: 1}, {after: "a/b", delimiter: "/", maxKeys: 1000},
		{delimiter: "/", maxKeys: 1000}, {prefix: "\xff", delimiter: "/", maxKeys: 1},
	} {
		wantO, wantP, _ := naiveList(keys, listParams{prefix: p.prefix, delimiter: p.delimiter, after: p.after, maxKeys: 1 << 30})
		gotO, gotP := pageThrough(t, m, p)
		if !slices.Equal(gotO, wantO) || !slices.Equal(gotP, wantP) {
			t.Errorf("%+v: objects %q prefixes %q, want %q %q", p, gotO, gotP, wantO, wantP)
		}
	}
}

// FuzzListing compares paged listings of a fuzzed key set with the
// definition, for fuzzed prefix, delimiter, start and page size.
func FuzzListing(f *testing.F) {
	f.Add("a/b\na/c\nb\nb/d/e", "", "/", "", uint8(1))
	f.Add("x\nx/\nx//\nx/y", "x", "/", "x/", uint8(2))
	f.Add("\xff\n\xff\xff\na\xffb", "", "\xff", "", uint8(1))
	f.Fuzz(func(t *testing.T, keyList, prefix, delimiter, after string, max uint8) {
		keys := strings.Split(keyList, "\n")
		slices.Sort(keys)
		keys = slices.Compact(keys)
		if len(keys) > 0 && keys[0] == "" {
			keys = keys[1:]
		}
		if len(keys) > 64 {
			return
		}
		m := openTestMeta(t, keys)
		p := listParams{prefix: prefix, delimiter: delimiter, after: after, maxKeys: int(max%8) + 1}
		wantO, wantP, _ := naiveList(keys, listParams{prefix: prefix, delimiter: delimiter, after: after, maxKeys: 1 << 30})
		gotO, gotP := pageThrough(t, m, p)
		if !slices.Equal(gotO, wantO) || !slices.Equal(gotP, wantP) {
			t.Fatalf("%q %+v: objects %q prefixes %q, want %q %q", keys, p, gotO, gotP, wantO, wantP)
		}
	})
}

// FuzzXMLRequests decodes arbitrary documents as every XML request body
// S3 accepts: decoding never panics, and a decoded notification
// configuration passes or fails its checks without panicking.
func FuzzXMLRequests(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>`))
	f.Add([]byte(`<NotificationConfiguration><CloudFunctionConfiguration><Id>i</Id><CloudFunction>arn:aws:lambda:us-east-1:0:function:f</CloudFunction>` +
		`<Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>in/</Value></FilterRule></S3Key></Filter>` +
		`</CloudFunctionConfiguration><EventBridgeConfiguration/></NotificationConfiguration>`))
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>`))
	f.Add([]byte(`<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var c completeRequest
		_ = xml.Unmarshal(doc, &c)
		var d deleteRequest
		_ = xml.Unmarshal(doc, &d)
		var tg tagging
		if xml.Unmarshal(doc, &tg) == nil {
			_ = checkTags(tg.Tags, 10)
		}
		var cb createBucketConfiguration
		_ = xml.Unmarshal(doc, &cb)
		var n NotificationConfiguration
		if xml.Unmarshal(doc, &n) == nil {
			for _, fc := range n.Functions {
				if fc.check(fc.Function) == nil {
					_ = fc.matches("ObjectCreated:Put", "in/x")
				}
			}
		}
	})
}
