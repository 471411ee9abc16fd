package stack

import (
	"errors"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// FuzzPrepare feeds templates and a parameter to the synchronous part of
// CreateStack: it never panics, and every refusal is a client error (400)
// the API can show.
func FuzzPrepare(f *testing.F) {
	for _, body := range []string{twoThings, threeThings, exporter, importer, samApp, `{"Resources":{"A":{"Type":"Test::Thing"}}}`} {
		f.Add(body, "Greeting", "hi")
	}
	providers := map[string]Provider{}
	for _, typ := range testTypes {
		providers[typ] = newFake()
	}
	s := &Service{providers: providers, region: "eu-west-1", account: "123456789012"}
	f.Fuzz(func(t *testing.T, body, key, value string) {
		p, err := s.prepare(planInput{
			name: "app", stackID: stackARN("eu-west-1", "123456789012", "app", "6f1c3f5e-7a8b-4c1d-9e2f-0a1b2c3d4e5f"),
			body: body, overrides: map[string]string{key: value}, capabilities: allCaps,
		})
		if err != nil {
			var e *awsapi.Error
			if !errors.As(err, &e) || e.Status != 400 || e.Message == "" {
				t.Fatalf("prepare error %v is not a 400 with a message", err)
			}
			return
		}
		for _, id := range p.dep.Order {
			if _, ok := providers[p.tmpl.Resources[id].Type]; !ok {
				t.Fatalf("resource %s of unsupported type %s kept", id, p.tmpl.Resources[id].Type)
			}
		}
	})
}
