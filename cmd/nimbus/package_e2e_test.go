package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

type zipEntry struct {
	name, data string
	mode       os.FileMode
}

func zipOf(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode == 0 {
			e.mode = 0o644
		}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chainedSymlinkZip is the package of issue 13: l1 -> ., l1/u1 -> ..,
// l1/uN -> u(N-1)/.., then regular files under l1/uN/ naming escape (an
// absolute path; the 20 links climb to / from any code directory). An
// extractor that follows links it created writes escape/pwned on the host.
func chainedSymlinkZip(t *testing.T, escape string) []byte {
	const n = 20
	link := os.ModeSymlink | 0o777
	es := []zipEntry{{"l1", ".", link}, {"l1/u1", "..", link}}
	for i := 2; i <= n; i++ {
		es = append(es, zipEntry{fmt.Sprintf("l1/u%d", i), fmt.Sprintf("u%d/..", i-1), link})
	}
	es = append(es,
		zipEntry{name: "app.py", data: "def handler(event, context):\n    return 1\n"},
		zipEntry{name: fmt.Sprintf("l1/u%d%s/pwned", n, escape), data: "written as root outside the code directory\n"})
	return zipOf(t, es...)
}

func wantInvalidParameterValue(t *testing.T, what string, err error) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "InvalidParameterValueException" {
		t.Fatalf("%s: error = %v, want InvalidParameterValueException", what, err)
	}
}

// TestHostilePackagesRefusedAtUpload: the chained-symlink package, and one
// whose header understates a file's size, are refused with
// InvalidParameterValueException by CreateFunction, UpdateFunctionCode and
// PublishLayerVersion (aws-sdk-go-v2 against a real server), and nothing is
// written outside the code directory, not even when the package is invoked.
func TestHostilePackagesRefusedAtUpload(t *testing.T) {
	t.Parallel()
	requireTool(t, "python3")
	dataDir, outside := t.TempDir(), t.TempDir()
	srv := startServerAt(t, dataDir)
	client := sdkClient(srv.endpoint)
	ctx := context.Background()
	chain := chainedSymlinkZip(t, outside)

	// A header that says 10 bytes for a 4096-byte file.
	lying := zipOf(t, zipEntry{name: "app.py", data: "def handler(event, context):\n    return 1\n" + strings.Repeat("#", 4096)})
	off := bytes.LastIndex(lying, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(lying[off+24:], 10)

	for name, z := range map[string][]byte{"chain": chain, "lying": lying} {
		_, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String("hostile-" + name), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
			Role: aws.String("arn:aws:iam::000000000000:role/lambda"), Code: &types.FunctionCode{ZipFile: z},
		})
		if err == nil {
			// Today's code accepted it: the first invoke extracts it.
			_, _ = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hostile-" + name)})
			noEscape(t, dataDir, outside)
		}
		wantInvalidParameterValue(t, "CreateFunction "+name, err)
		_, err = client.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{
			LayerName: aws.String("hostile-" + name), Content: &types.LayerVersionContentInput{ZipFile: z},
		})
		wantInvalidParameterValue(t, "PublishLayerVersion "+name, err)
	}
	if _, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("victim"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String("arn:aws:iam::000000000000:role/lambda"), Code: &types.FunctionCode{ZipFile: pyZip(t, "victim", "def handler(e, c):\n    return 'ok'\n")},
	}); err != nil {
		t.Fatal(err)
	}
	_, err := client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("victim"), ZipFile: chain})
	wantInvalidParameterValue(t, "UpdateFunctionCode chain", err)
	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("victim")})
	if err != nil || out.FunctionError != nil || string(out.Payload) != `"ok"` {
		t.Fatalf("victim after refused update: %v %+v", err, out)
	}
	noEscape(t, dataDir, outside)
}

// noEscape fails if the chained package's file appeared anywhere: in the
// directory it aimed at, or anywhere in the data directory.
func noEscape(t *testing.T, dataDir, outside string) {
	t.Helper()
	if ents, err := os.ReadDir(outside); err != nil || len(ents) != 0 {
		t.Fatalf("%s holds %v (%v): the package wrote outside its code directory", outside, ents, err)
	}
	_ = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "pwned" {
			t.Errorf("%s written", p)
		}
		return nil
	})
}

// TestSymlinkPackageDeploys: a real package layout with a symbolic link
// (a virtualenv's lib64 -> lib) deploys, and the function imports a
// module through the link and reads it back as a link.
func TestSymlinkPackageDeploys(t *testing.T) {
	t.Parallel()
	requireTool(t, "python3")
	srv := startServerAt(t, t.TempDir())
	client := sdkClient(srv.endpoint)
	ctx := context.Background()
	z := zipOf(t,
		zipEntry{name: "app.py", data: `import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "venv", "lib64", "site-packages"))
import greeter

def handler(event, context):
    return {"greeting": greeter.greet(event["name"]), "link": os.readlink(os.path.join(os.path.dirname(__file__), "venv", "lib64"))}
`},
		zipEntry{name: "venv/lib/site-packages/greeter.py", data: "def greet(n):\n    return 'hello ' + n\n"},
		zipEntry{name: "venv/lib64", data: "lib", mode: os.ModeSymlink | 0o777},
	)
	if _, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("venv"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String("arn:aws:iam::000000000000:role/lambda"), Code: &types.FunctionCode{ZipFile: z},
	}); err != nil {
		t.Fatal(err)
	}
	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("venv"), Payload: []byte(`{"name":"link"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Greeting, Link string }
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &got) != nil || got.Greeting != "hello link" || got.Link != "lib" {
		t.Fatalf("invoke: %v %s", aws.ToString(out.FunctionError), out.Payload)
	}
}
