package s3

import (
	"net/http"
	"net/url"
	"strings"
)

// The subresources Nimbus serves, with the methods each takes at the
// bucket and at the object level. A request naming one with another
// method is S3's 405 MethodNotAllowed (with the Method and ResourceType
// elements and an Allow header, as S3 answers), not a feature Nimbus
// lacks.
var (
	bucketSubresources = []subresource{
		{"acl", "GET, PUT"}, {"cors", "GET, PUT, DELETE"}, {"delete", "POST"},
		{"encryption", "GET, PUT, DELETE"}, {"lifecycle", "GET, PUT, DELETE"}, {"location", "GET"},
		{"notification", "GET, PUT"}, {"ownershipControls", "GET, PUT, DELETE"}, {"policy", "GET, PUT, DELETE"},
		{"publicAccessBlock", "GET, PUT, DELETE"}, {"tagging", "GET, PUT, DELETE"}, {"uploads", "GET"},
		{"versioning", "GET, PUT"}, {"versions", "GET"},
	}
	objectSubresources = []subresource{
		{"acl", "GET, PUT"}, {"attributes", "GET"}, {"tagging", "GET, PUT, DELETE"}, {"uploads", "POST"},
	}
)

type subresource struct{ name, allow string }

// methodAllowed refuses a request whose method the first subresource it
// names (of those in subs) does not take.
func methodAllowed(r *http.Request, q url.Values, subs []subresource) error {
	for _, s := range subs {
		if !q.Has(s.name) {
			continue
		}
		for m := range strings.SplitSeq(s.allow, ", ") {
			if m == r.Method {
				return nil
			}
		}
		return methodNotAllowed(r.Method, strings.ToUpper(s.name)).allowing(s.allow)
	}
	return nil
}

func methodNotAllowed(method, resourceType string) *Error {
	return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.").
		with("Method", method).with("ResourceType", resourceType)
}
