package stack

import (
	"crypto/rand"
	"strings"

	"github.com/google/uuid"
)

// maxStackName is CloudFormation's limit on stack names.
const maxStackName = 128

// validStackName reports whether name is a CloudFormation stack name:
// a letter, then letters, digits and hyphens, at most 128 characters.
func validStackName(name string) bool {
	if name == "" || len(name) > maxStackName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case ('0' <= c && c <= '9') || c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func checkStackName(name string) error {
	if !validStackName(name) {
		return validationError("1 validation error detected: Value '%s' at 'stackName' failed to satisfy constraint: "+
			"Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*", name)
	}
	return nil
}

// stackARN is the stack id CloudFormation gives a stack.
func stackARN(region, account, name, id string) string {
	return "arn:aws:cloudformation:" + region + ":" + account + ":stack/" + name + "/" + id
}

// splitStackARN returns the name and uuid of a stack id, or ok=false if
// s is not one.
func splitStackARN(s string) (name, id string, ok bool) {
	if !strings.HasPrefix(s, "arn:") {
		return "", "", false
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[2] != "cloudformation" {
		return "", "", false
	}
	rest, found := strings.CutPrefix(parts[5], "stack/")
	if !found {
		return "", "", false
	}
	name, id, found = strings.Cut(rest, "/")
	if !found || !validStackName(name) {
		return "", "", false
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", "", false
	}
	return name, id, true
}

const physicalAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// suffixLen is the length of the random part of a generated name.
const suffixLen = 13

// PhysicalName generates the name CloudFormation gives a resource whose
// template does not name it: "<stack>-<logicalID>-<13 random uppercase
// letters and digits>", with the stack name and the logical id shortened
// (the longer first) so that the whole fits in limit characters. Providers
// call it for names with a length limit (64 for Lambda functions).
func PhysicalName(stackName, logicalID string, limit int) string {
	var b [suffixLen]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	for i := range b {
		b[i] = physicalAlphabet[int(b[i])%len(physicalAlphabet)]
	}
	suffix := string(b[:])
	room := limit - suffixLen - 2 // two hyphens
	if room < 2 {
		return suffix[:min(max(limit, 0), suffixLen)]
	}
	s, l := stackName, logicalID
	for len(s)+len(l) > room {
		if len(s) >= len(l) {
			s = s[:len(s)-1]
		} else {
			l = l[:len(l)-1]
		}
	}
	// A cut may leave a hyphen at the end of a part; names do not have two
	// in a row.
	return strings.TrimRight(s, "-") + "-" + strings.TrimRight(l, "-") + "-" + suffix
}
