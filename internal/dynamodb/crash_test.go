package dynamodb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/crashtest"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// crashChildEnv makes the test binary run crashChild (see TestMain).
const crashChildEnv = "NIMBUS_DDB_CRASH_CHILD_DIR"

func TestMain(m *testing.M) { crashtest.Main(m, crashChildEnv, crashChild) }

// crashChild writes items to table "crash" (which has a stream) from
// eight writers until it is killed, reporting every key whose PutItem was
// answered on fd 3.
func crashChild(dir string) int {
	acks := crashtest.Report()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: filepath.Join(dir, "state")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := New(ctx, Options{Dir: filepath.Join(dir, "tables"), JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err == nil {
		_, err = s.createTable(ctx, &createTableInput{TableName: "crash", BillingMode: "PAY_PER_REQUEST",
			AttributeDefinitions: []attrDef{{"id", "S"}}, KeySchema: []keyElem{{"id", "HASH"}},
			StreamSpecification: &streamSpec{StreamEnabled: true, StreamViewType: "NEW_IMAGE"}})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				_, err := s.writeOne(ctx, "Put", &itemInput{TableName: "crash", Item: Item{"id": {K: KindS, S: id}, "n": {K: KindN, S: fmt.Sprint(i)}}})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
				acks.Line(id)
			}
		}()
	}
	wg.Wait()
	return 2
}

// TestSIGKILLKeepsAnsweredWrites: every PutItem answered before a kill -9
// is in the table after the restart, and has exactly one stream record.
func TestSIGKILLKeepsAnsweredWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	crashtest.Kill(t, crashChildEnv, dir, func(line string) bool {
		acked[line] = true
		return len(acked) >= 500
	})
	st := storetest.OpenDir(t, filepath.Join(dir, "state"))
	s, err := New(t.Context(), Options{Dir: filepath.Join(dir, "tables"), JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	out, err := s.read(&readInput{TableName: "crash"}, false)
	if err != nil {
		t.Fatal(err)
	}
	items := map[string]bool{}
	for _, it := range out.(map[string]any)["Items"].([]Item) {
		items[it["id"].S] = true
	}
	for id := range acked {
		if !items[id] {
			t.Fatalf("answered write %q lost after kill -9 (%d answered, %d stored)", id, len(acked), len(items))
		}
	}
	// Every stored item has exactly one INSERT record once the relay has
	// drained the outbox.
	tab, _ := s.e.table("crash")
	seen := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		recs, _, err := s.ReadStream(t.Context(), tab.LatestStreamArn, 1, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		seen = map[string]int{}
		for _, r := range recs {
			seen[r.Dynamodb.Keys["id"].S]++
		}
		if len(seen) >= len(items) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the relay drains the outbox after the restart
	}
	for id := range items {
		if seen[id] != 1 {
			t.Fatalf("item %q has %d stream records, want 1", id, seen[id])
		}
	}
	if len(seen) != len(items) {
		t.Fatalf("%d items but stream records for %d keys", len(items), len(seen))
	}
	t.Logf("%d writes answered before the kill, %d items and as many stream records after the restart", len(acked), len(items))
}
