package registry

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestRealStore runs the registry on the real backbone (embedded NATS
// JetStream): two nodes share it, concurrent writes keep every change, the
// watch carries changes across, and everything survives a restart.
func TestRealStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded NATS server")
	}
	dir := t.TempDir()
	st := storetest.OpenDir(t, dir)
	ctx := context.Background()
	a, stopA := runRegistry(t, st, nil)
	w := newWatcher(t, 20*time.Second)
	b, stopB := runRegistry(t, st, w.tweak)

	z := zipOf(t, map[string]string{"bootstrap": "#!/bin/sh\n"})
	mustCreate(t, a, newFunction("real", z))
	w.waitFor("the new function", func() bool { _, err := b.Resolve(ctx, "real", ""); return err == nil })

	var wg sync.WaitGroup
	const n = 8
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reg := a
			if i%2 == 1 {
				reg = b
			}
			if _, err := reg.UpdateConfiguration(ctx, "real", "", func(c *function.Config) error {
				if c.Environment == nil {
					c.Environment = &function.Environment{Variables: map[string]string{}}
				}
				cur, _ := strconv.Atoi(c.Environment.Variables["N"])
				c.Environment.Variables["N"] = strconv.Itoa(cur + 1)
				return nil
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	w.waitFor("every update", func() bool {
		cfg, err := b.Config(ctx, "real", "")
		return err == nil && cfg.Environment != nil && cfg.Environment.Variables["N"] == strconv.Itoa(n)
	})

	v, err := a.PublishVersion(ctx, "real", PublishInput{})
	if err != nil || v.Version != "1" {
		t.Fatalf("PublishVersion: %v %v", v, err)
	}
	if _, err := a.CreateAlias(ctx, "real", function.Alias{Name: "live", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the alias", func() bool { c, err := b.Resolve(ctx, "real", "live"); return err == nil && c.Version == "1" })
	data, err := b.Code(ctx, v.CodeSha256)
	if err != nil || string(data) != string(z) {
		t.Fatalf("Code: %v", err)
	}

	// Restart: a fresh store process on the same directory, a fresh node.
	stopA()
	stopB()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2 := storetest.OpenDir(t, dir)
	c := startRegistry(t, st2, nil)
	cfg, err := c.Resolve(ctx, "real", "live")
	if err != nil || cfg.Version != "1" || cfg.Environment.Variables["N"] != strconv.Itoa(n) {
		t.Fatalf("after restart: %v %v", cfg, err)
	}
	if err := c.DeleteFunction(ctx, "real"); err != nil {
		t.Fatal(err)
	}
	if _, err := st2.GetCode(ctx, function.CodeKey(v.CodeSha256)); err == nil {
		t.Error("code package kept after its function was deleted")
	}
	if keys, _ := st2.Keys(ctx, "ver.real."); len(keys) != 0 {
		t.Errorf("version keys left: %v", keys)
	}
}
