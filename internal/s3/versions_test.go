package s3

import (
	"fmt"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// modelVersion is a version in the reference model of versioning.
type modelVersion struct {
	id     string // "null" or the id the store gave
	marker bool
	file   string
}

// versionModel applies operations to a bbolt store and to a plain model
// side by side.
type versionModel struct {
	t      testing.TB
	m      *metaDB
	keys   []string
	model  map[string][]modelVersion // newest first
	status string
	n      int
}

func newVersionModel(t testing.TB) *versionModel {
	return &versionModel{t: t, m: openTestMeta(t, nil), keys: []string{"a", "a/b", "b", "c/d/e"}, model: map[string][]modelVersion{}}
}

func (v *versionModel) put(key string, marker bool) {
	v.n++
	om := &objectMeta{File: fmt.Sprintf("f%05d", v.n), DeleteMarker: marker}
	if marker {
		om.File = ""
	}
	err := v.m.db.Update(func(tx *bolt.Tx) error {
		if v.status == "" {
			if marker {
				return deleteObject(tx, "b", key)
			}
			return putObject(tx, "b", key, om)
		}
		_, err := putVersioned(tx, v.status, "b", key, om)
		return err
	})
	if err != nil {
		v.t.Fatal(err)
	}
	mv := modelVersion{id: versionOf(om), marker: marker, file: om.File}
	switch v.status {
	case "":
		v.model[key] = nil
		if !marker {
			v.model[key] = []modelVersion{mv}
		}
	case versioningSuspended:
		v.model[key] = slices.DeleteFunc(v.model[key], func(x modelVersion) bool { return x.id == nullVersion })
		v.model[key] = append([]modelVersion{mv}, v.model[key]...)
	default:
		v.model[key] = append([]modelVersion{mv}, v.model[key]...)
	}
}

func (v *versionModel) deleteVersion(key string, i int) {
	vs := v.model[key]
	if len(vs) == 0 {
		return
	}
	i %= len(vs)
	id := vs[i].id
	err := v.m.db.Update(func(tx *bolt.Tx) error {
		gone, _, err := deleteVersion(tx, "b", key, id)
		if err == nil && gone == nil {
			return fmt.Errorf("version %s of %s not found", id, key)
		}
		return err
	})
	if err != nil {
		v.t.Fatal(err)
	}
	v.model[key] = slices.Delete(vs, i, i+1)
}

// check compares every key's versions, its current object and the paged
// ListObjectVersions with the model.
func (v *versionModel) check() {
	v.t.Helper()
	var want []string
	for _, key := range v.keys {
		var got []*objectMeta
		var cur *objectMeta
		err := v.m.db.View(func(tx *bolt.Tx) error {
			var err error
			if got, err = versionsOfKey(tx, "b", key); err != nil {
				return err
			}
			cur, err = getObject(tx, "b", key)
			return err
		})
		if err != nil {
			v.t.Fatal(err)
		}
		mv := v.model[key]
		if len(got) != len(mv) {
			v.t.Fatalf("%s: %d versions, model has %d", key, len(got), len(mv))
		}
		for i := range mv {
			if versionOf(got[i]) != mv[i].id || got[i].DeleteMarker != mv[i].marker || got[i].File != mv[i].file {
				v.t.Fatalf("%s version %d: %+v, model %+v", key, i, got[i], mv[i])
			}
		}
		switch {
		case len(mv) == 0 || mv[0].marker:
			if cur != nil {
				v.t.Fatalf("%s: current %+v, model has none", key, cur)
			}
		case cur == nil || cur.File != mv[0].file:
			v.t.Fatalf("%s: current %+v, model %+v", key, cur, mv[0])
		}
		for i, x := range mv {
			want = append(want, fmt.Sprintf("%s@%s:%v:%v", key, x.id, x.marker, i == 0))
		}
	}
	var got []string
	p := versionParams{maxKeys: 1}
	for range 1000 {
		page, err := v.m.listVersions("b", p)
		if err != nil {
			v.t.Fatal(err)
		}
		for _, e := range page.entries {
			got = append(got, fmt.Sprintf("%s@%s:%v:%v", e.key, versionOf(e.om), e.om.DeleteMarker, e.latest))
		}
		if !page.truncated {
			break
		}
		p.keyMarker, p.vidMarker = page.nextKey, page.nextVid
	}
	if !slices.Equal(got, want) {
		v.t.Fatalf("ListObjectVersions paged by one:\n %q\nwant\n %q", got, want)
	}
}

// run applies ops (two bytes each: operation, key and version choice).
func (v *versionModel) run(ops []byte) {
	for i := 0; i+1 < len(ops); i += 2 {
		key := v.keys[int(ops[i+1])%len(v.keys)]
		switch ops[i] % 6 {
		case 0, 1:
			v.put(key, false)
		case 2:
			if v.status != "" {
				v.put(key, true)
			}
		case 3:
			v.deleteVersion(key, int(ops[i+1]>>2))
		case 4:
			v.status = versioningEnabled
		case 5:
			if v.status != "" {
				v.status = versioningSuspended
			}
		}
		v.check()
	}
}

// TestVersionsKeepEveryVersion: the scenarios of the attack (a
// versioned delete keeps the previous version) and of suspension.
func TestVersionsKeepEveryVersion(t *testing.T) {
	v := newVersionModel(t)
	v.put("a", false) // before versioning: the "null" version
	v.status = versioningEnabled
	v.put("a", false)
	v.put("a", true) // DeleteObject: a marker, both versions kept
	v.check()
	if len(v.model["a"]) != 3 {
		t.Fatalf("versions after a versioned delete: %+v", v.model["a"])
	}
	v.deleteVersion("a", 0) // removing the marker brings the object back
	v.check()
	v.status = versioningSuspended
	v.put("a", false) // replaces the "null" version only
	v.check()
	v.put("b", true)
	v.deleteVersion("a", 0)
	v.deleteVersion("a", 0)
	v.check()
}

// FuzzVersions runs fuzzed sequences of puts, delete markers, version
// deletions and status changes against the model.
func FuzzVersions(f *testing.F) {
	f.Add([]byte{0, 0, 4, 0, 0, 0, 2, 0, 3, 0, 5, 0, 0, 0, 3, 4})
	f.Add([]byte{4, 1, 0, 1, 0, 2, 2, 1, 3, 5, 3, 9, 5, 0, 1, 1, 2, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 200 {
			return
		}
		newVersionModel(t).run(ops)
	})
}

// FuzzVersionParams: version ids and ListObjectVersions' parameters from
// the query, and PutBucketVersioning bodies, are refused or accepted
// without panicking.
func FuzzVersionParams(f *testing.F) {
	f.Add("0123456789abcdef0123456789abcdef", "k", "null", "10", []byte(`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`))
	f.Add("../x", "", "x", "-1", []byte(`<VersioningConfiguration><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>`))
	f.Fuzz(func(t *testing.T, vid, keyMarker, vidMarker, maxKeys string, body []byte) {
		if validVersionID(vid) && vid != nullVersion && !validID(vid) {
			t.Fatalf("version id %q accepted", vid)
		}
		q := map[string][]string{"key-marker": {keyMarker}, "version-id-marker": {vidMarker}, "max-keys": {maxKeys}}
		if p, _, err := versionQuery(q); err == nil && (p.maxKeys < 0 || p.maxKeys > 1000 || (p.vidMarker != "" && !validVersionID(p.vidMarker))) {
			t.Fatalf("accepted %+v", p)
		}
		if st, err := parseVersioning(body); err == nil && st != versioningEnabled && st != versioningSuspended {
			t.Fatalf("status %q accepted", st)
		}
	})
}
