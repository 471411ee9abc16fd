package daemon

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

// The table benchmarks put one signed DynamoDB request through the whole
// front door (SigV4, IAM, routing, the handler, the store); read them
// beside the echo baseline of the same run:
//
//	go test -run '^$' -bench 'Table|EchoBaseline' -benchtime 2000x ./internal/daemon/
func BenchmarkTablePutItem(b *testing.B) { benchTable(b, "PutItem") }

func BenchmarkTableGetItem(b *testing.B) { benchTable(b, "GetItem") }

func benchTable(b *testing.B, op string) {
	n := startNodeWith(b, b.TempDir(), nil)
	c := &http.Client{Transport: &sigv4test.Transport{Base: benchClient().Transport,
		Creds: credentials.StaticCredentialsProvider{Value: n.creds()}, Region: "us-east-1", Service: "dynamodb"}}
	call := func(target, body string) error {
		req, err := http.NewRequest(http.MethodPost, "http://"+n.d.Addr()+"/", strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(out, []byte("{")) {
			return fmt.Errorf("%s: %d %s", target, resp.StatusCode, out)
		}
		return nil
	}
	if err := call("CreateTable", `{"TableName":"bench","BillingMode":"PAY_PER_REQUEST",
		"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}]}`); err != nil {
		b.Fatal(err)
	}
	item := `{"TableName":"bench","Item":{"pk":{"S":"k"},"d":{"S":"` + strings.Repeat("x", 1000) + `"}}}`
	if err := call("PutItem", item); err != nil {
		b.Fatal(err)
	}
	body := item
	if op == "GetItem" {
		body = `{"TableName":"bench","Key":{"pk":{"S":"k"}}}`
	}
	measure(b, func() error { return call(op, body) })
}
