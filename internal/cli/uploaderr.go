package cli

import (
	"encoding/xml"
	"fmt"
	"net/http"
)

// artifactRefusal says why the node refused an artifact request: the
// AWS error code and message of its XML answer, else what the status
// means (a HEAD answer has no body to say it).
func artifactRefusal(status int, body string) string {
	var e struct {
		Error struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
	}
	if xml.Unmarshal([]byte(body), &e) == nil && e.Error.Code != "" {
		return fmt.Sprintf("%s: %s", e.Error.Code, e.Error.Message)
	}
	switch status {
	case http.StatusForbidden:
		return "status 403: the node refused the credentials (they are not a key of this node, or the secret key is wrong)"
	case http.StatusRequestEntityTooLarge:
		return "status 413: the code is larger than the node accepts"
	}
	if body == "" {
		return fmt.Sprintf("status %d %s", status, http.StatusText(status))
	}
	return fmt.Sprintf("status %d: %s", status, body)
}
