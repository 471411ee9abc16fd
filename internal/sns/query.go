package sns

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// The query protocol's flattened members, as botocore and the Go SDK
// write them:
//
//	Attributes.entry.N.key / .value            (topic and subscription attributes)
//	Tags.member.N.Key / .Value, TagKeys.member.N
//	MessageAttributes.entry.N.Name / .Value.DataType / .Value.StringValue / .Value.BinaryValue
//	PublishBatchRequestEntries.member.N.<member>  (with MessageAttributes nested as above)

// maxListed bounds the entries of one flattened list or map a request may
// name: AWS's largest are 10 batch entries, 10 message attributes and 50
// tags, so anything far beyond is refused before it costs anything.
const maxListed = 100

// indices returns the sorted distinct N of the keys "<prefix>.N.<rest>"
// (or "<prefix>.N" with leaf) in form.
func indices(form url.Values, prefix string, leaf bool) ([]int, *Error) {
	seen := map[int]bool{}
	p := prefix + "."
	for k := range form {
		rest, ok := strings.CutPrefix(k, p)
		if !ok {
			continue
		}
		num, _, dotted := strings.Cut(rest, ".")
		if dotted == leaf {
			continue // another shape: not an entry of this list
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || num[0] == '0' {
			return nil, invalidParameter("%s: %q is not a valid index", prefix, num)
		}
		if !seen[n] {
			if len(seen) >= maxListed {
				return nil, invalidParameter("%s: too many entries", prefix)
			}
			seen[n] = true
		}
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Ints(out)
	return out, nil
}

// attributeMap reads "<prefix>.entry.N.key/value" (topic and
// subscription attributes).
func attributeMap(form url.Values, prefix string) (map[string]string, *Error) {
	idx, err := indices(form, prefix+".entry", false)
	if err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(idx))
	for _, n := range idx {
		base := prefix + ".entry." + strconv.Itoa(n)
		k, ok := form[base+".key"]
		if !ok || k[0] == "" {
			return nil, invalidParameter("%s: an entry has no key", prefix)
		}
		out[k[0]] = form.Get(base + ".value")
	}
	return out, nil
}

// tag is one resource tag.
type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// tagList reads "<prefix>.member.N.Key/Value".
func tagList(form url.Values, prefix string) ([]tag, *Error) {
	idx, err := indices(form, prefix+".member", false)
	if err != nil {
		return nil, err
	}
	var out []tag
	for _, n := range idx {
		base := prefix + ".member." + strconv.Itoa(n)
		k, ok := form[base+".Key"]
		if !ok {
			return nil, invalidParameter("%s: a tag has no Key", prefix)
		}
		out = append(out, tag{Key: k[0], Value: form.Get(base + ".Value")})
	}
	return out, nil
}

// stringList reads "<prefix>.member.N".
func stringList(form url.Values, prefix string) ([]string, *Error) {
	idx, err := indices(form, prefix+".member", true)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(idx))
	for _, n := range idx {
		out = append(out, form.Get(prefix+".member."+strconv.Itoa(n)))
	}
	return out, nil
}

// msgAttr is one message attribute as Publish carries it.
type msgAttr struct {
	Type   string `json:"t"`
	String string `json:"s,omitempty"`
	Binary []byte `json:"b,omitempty"`
}

// messageAttributes reads "<prefix>.entry.N.Name/Value.DataType/
// Value.StringValue/Value.BinaryValue" (BinaryValue is base64, as the
// protocol encodes blobs).
func messageAttributes(form url.Values, prefix string) (map[string]msgAttr, *Error) {
	idx, err := indices(form, prefix+".entry", false)
	if err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		return nil, nil
	}
	out := make(map[string]msgAttr, len(idx))
	for _, n := range idx {
		base := prefix + ".entry." + strconv.Itoa(n)
		name := form.Get(base + ".Name")
		if name == "" {
			return nil, invalidParameterValue("The message attribute name can not be empty.")
		}
		if _, dup := out[name]; dup {
			return nil, invalidParameterValue("Message attribute name '%s' has been specified more than once.", name)
		}
		a := msgAttr{Type: form.Get(base + ".Value.DataType"), String: form.Get(base + ".Value.StringValue")}
		if b, ok := form[base+".Value.BinaryValue"]; ok {
			raw, err := base64.StdEncoding.DecodeString(b[0])
			if err != nil {
				return nil, invalidParameterValue("The message attribute '%s' has an invalid binary value.", name)
			}
			a.Binary = raw
		}
		out[name] = a
	}
	return out, nil
}

// xw writes a query-protocol answer.
type xw struct{ b bytes.Buffer }

func (x *xw) open(name string)  { x.b.WriteString("<" + name + ">") }
func (x *xw) close(name string) { x.b.WriteString("</" + name + ">") }

// elem writes <name>value</name>, escaped.
func (x *xw) elem(name, value string) {
	x.b.WriteString("<" + name + ">")
	_ = xml.EscapeText(&x.b, []byte(value))
	x.b.WriteString("</" + name + ">")
}

// entries writes a map as <name><entry><key/><value/></entry>...</name>,
// keys sorted.
func (x *xw) entries(name string, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	x.open(name)
	for _, k := range keys {
		x.open("entry")
		x.elem("key", k)
		x.elem("value", m[k])
		x.close("entry")
	}
	x.close(name)
}

// response wraps result (written by body, nil for none) as
// <OpResponse><OpResult>…</OpResult><ResponseMetadata>…</OpResponse>.
func response(op, reqID string, body func(*xw)) []byte {
	var x xw
	x.b.WriteString(xml.Header)
	x.b.WriteString("<" + op + `Response xmlns="` + xmlNamespace + `">`)
	if body != nil {
		x.open(op + "Result")
		body(&x)
		x.close(op + "Result")
	}
	x.open("ResponseMetadata")
	x.elem("RequestId", reqID)
	x.close("ResponseMetadata")
	x.close(op + "Response")
	return x.b.Bytes()
}
