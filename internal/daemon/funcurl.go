package daemon

import (
	"net/http"

	"github.com/nimbus-serverless/nimbus/internal/funcurl"
)

// withFunctionURLs sends requests whose Host names a function URL
// (<url-id>.lambda-url.<region>.localhost[:port]) to urls, outside the
// SigV4 wrapper (an AWS_IAM URL verifies its callers itself), and every
// other request to next.
func withFunctionURLs(urls *funcurl.Handler, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if funcurl.IsURLHost(r.Host) {
			urls.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
