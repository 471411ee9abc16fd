package cfnapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// MaxArtifactBytes bounds an uploaded artifact. Lambda's bound for code
// deployed from S3 is 250 MB unzipped, and a zip is never usefully larger
// than what it holds, so 256 MiB leaves no deployable artifact out. The
// body is held in memory, not streamed: the SigV4 check hashes the whole
// body before the request gets here (and bounds signed bodies at
// sigv4.DefaultMaxBody, 128 MiB, below this), and the code store takes
// whole packages.
const MaxArtifactBytes = 256 << 20

// serveArtifact answers PUT (upload, the content's SHA-256 must be the
// path's) and HEAD (200 if present, 404 if not) of
// /_nimbus/artifacts/<sha256 hex>.
func (h *Handler) serveArtifact(w http.ResponseWriter, r *http.Request, reqID string) {
	sha := strings.TrimPrefix(r.URL.Path, ArtifactPrefix)
	if !isSHA256Hex(sha) {
		WriteError(w, reqID, validation("An artifact is named by the lowercase hex SHA-256 of its content: /_nimbus/artifacts/<64 hex digits>."))
		return
	}
	if h.opts.Artifacts == nil {
		WriteError(w, reqID, ErrorFor(errors.New("no artifact store")))
		return
	}
	switch r.Method {
	case http.MethodHead:
		ok, err := h.opts.Artifacts.Has(r.Context(), sha)
		switch {
		case err != nil:
			h.log.Error("look up artifact", "sha256", sha, "request_id", reqID, "err", err)
			w.WriteHeader(http.StatusInternalServerError)
		case ok:
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	case http.MethodPut:
		if err := h.putArtifact(r, sha); err != nil {
			h.writeError(w, reqID, "PutArtifact", err)
			return
		}
		w.WriteHeader(http.StatusOK)
	default:
		w.Header().Set("Allow", "HEAD, PUT")
		WriteError(w, reqID, &awsapi.Error{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed", Type: "User",
			Message: "Artifacts take PUT (upload) and HEAD (exists?)."})
	}
}

func (h *Handler) putArtifact(r *http.Request, sha string) error {
	tooBig := &awsapi.Error{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Type: "User",
		Message: fmt.Sprintf("An artifact must be smaller than %d bytes.", MaxArtifactBytes)}
	if r.ContentLength > MaxArtifactBytes {
		return tooBig
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxArtifactBytes+1))
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) || len(data) > MaxArtifactBytes {
		return tooBig
	}
	if err != nil {
		return fmt.Errorf("read artifact: %w", err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != sha {
		return validation("The artifact's content has SHA-256 %s, not %s as its path says.", got, sha)
	}
	if err := h.opts.Artifacts.Put(r.Context(), sha, data); err != nil {
		return fmt.Errorf("store artifact %s: %w", sha, err)
	}
	return nil
}

func isSHA256Hex(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// parseTemplate parses a template for the details ValidateTemplate and
// GetTemplateSummary add to the engine's validation (transforms, resource
// types, parameter types); nil when it cannot be parsed (the engine's
// verdict on the template is the one that counts).
func (h *Handler) parseTemplate(body string) *cfn.Template {
	parse := h.opts.ParseTemplate
	if parse == nil {
		parse = cfn.Parse
	}
	t, err := parse([]byte(body))
	if err != nil {
		return nil
	}
	return t
}
