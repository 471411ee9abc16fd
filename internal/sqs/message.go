package sqs

import (
	"crypto/md5" //nolint:gosec // SQS's digests are MD5 by definition; they check transport, not secrecy
	"encoding/binary"
	"encoding/hex"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// AttributeValue is a message attribute as the API carries it.
type AttributeValue struct {
	DataType         string   `json:"DataType"`
	StringValue      *string  `json:"StringValue,omitempty"`
	BinaryValue      []byte   `json:"BinaryValue,omitempty"`
	StringListValues []string `json:"StringListValues,omitempty"`
	BinaryListValues [][]byte `json:"BinaryListValues,omitempty"`
}

var (
	attrNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)
	numberRE   = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)
)

// validText reports whether s holds only the characters SQS allows in a
// body or string attribute: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
// #x10000-#x10FFFF, as valid UTF-8.
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// checkMessageAttributes validates a message's attributes and returns
// their size as SQS counts it toward the message size (name, type and
// value bytes).
func checkMessageAttributes(attrs map[string]AttributeValue) (int, error) {
	if len(attrs) > maxAttributes {
		return 0, errInvalidParameter("Number of message attributes [%d] exceeds the allowed maximum [%d].", len(attrs), maxAttributes)
	}
	size := 0
	for name, v := range attrs {
		lower := strings.ToLower(name)
		if !attrNameRE.MatchString(name) || strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") ||
			strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
			return 0, errInvalidParameter("Message (user) attribute name '%s' is invalid.", name)
		}
		if len(v.StringListValues) > 0 || len(v.BinaryListValues) > 0 {
			return 0, errInvalidParameter("Message attribute list values in SendMessage operation are not supported.")
		}
		base, _, _ := strings.Cut(v.DataType, ".")
		if v.DataType == "" {
			return 0, errInvalidParameter("The message attribute '%s' must contain non-empty message attribute type.", name)
		}
		if len(v.DataType) > 256 {
			return 0, errInvalidParameter("Message attribute '%s' has a type longer than 256 characters.", name)
		}
		switch base {
		case "String", "Number":
			if v.StringValue == nil || *v.StringValue == "" {
				return 0, errInvalidParameter("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, v.DataType)
			}
			if v.BinaryValue != nil {
				return 0, errInvalidParameter("The message attribute '%s' with type '%s' must use field 'String'.", name, base)
			}
			if !validText(*v.StringValue) {
				return 0, errInvalidParameter("Message attribute '%s' contains invalid characters.", name)
			}
			if base == "Number" && (!numberRE.MatchString(*v.StringValue) || len(*v.StringValue) > 40) {
				return 0, errInvalidParameter("Can't cast the value of message (user) attribute '%s' to a number.", name)
			}
			size += len(*v.StringValue)
		case "Binary":
			if len(v.BinaryValue) == 0 {
				return 0, errInvalidParameter("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, v.DataType)
			}
			if v.StringValue != nil {
				return 0, errInvalidParameter("The message attribute '%s' with type 'Binary' must use field 'Binary'.", name)
			}
			size += len(v.BinaryValue)
		default:
			return 0, errInvalidParameter("The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
		}
		size += len(name) + len(v.DataType)
	}
	return size, nil
}

// md5Hex is the hex MD5 of s, as MD5OfMessageBody.
func md5Hex(s []byte) string {
	sum := md5.Sum(s) //nolint:gosec // see the import
	return hex.EncodeToString(sum[:])
}

// md5OfAttributes is the digest SQS computes over message attributes and
// the SDKs verify: for each attribute sorted by name, the name, the data
// type, a transport byte (1 string, 2 binary) and the value, each string
// prefixed with its length as a 4-byte big-endian integer. "" for none.
func md5OfAttributes(attrs map[string]AttributeValue) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := md5.New() //nolint:gosec // see the import
	put := func(b []byte) {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(b))) //nolint:gosec // lengths are bounded by the message size
		h.Write(l[:])
		h.Write(b)
	}
	for _, n := range names {
		v := attrs[n]
		put([]byte(n))
		put([]byte(v.DataType))
		if v.StringValue != nil {
			h.Write([]byte{1})
			put([]byte(*v.StringValue))
		} else {
			h.Write([]byte{2})
			put(v.BinaryValue)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
