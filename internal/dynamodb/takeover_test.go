package dynamodb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"

	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// clusterNode is one node of an in-process cluster: its own backbone
// connection (closing it is the node dying: no lease release, no reply,
// no append), its table store and its HTTP endpoint.
type clusterNode struct {
	name string
	svc  *Service
	nc   *nats.Conn
	srv  *httptest.Server
	c    *ddb.Client
	once sync.Once
}

func startNode(t testing.TB, st *store.Store, name string) *clusterNode {
	t.Helper()
	return startNodeIn(t, st, name, t.TempDir())
}

// startNodeIn starts a node whose store is in dir.
func startNodeIn(t testing.TB, st *store.Store, name, dir string) *clusterNode {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(st.Server()))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(t.Context(), Options{Dir: dir, JetStream: js, Region: "us-east-1", AccountID: testAccount,
		Cluster: true, Conn: nc, Node: name, LeaseTTL: 2 * time.Second, LogCompaction: 600 * time.Millisecond,
		SeedWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(svc))
	n := &clusterNode{name: name, svc: svc, nc: nc, srv: srv}
	n.c = ddb.New(ddb.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	t.Cleanup(n.stop)
	return n
}

// stop stops the node cleanly (its store kept in its directory).
func (n *clusterNode) stop() {
	n.once.Do(func() { n.srv.Close(); _ = n.svc.Close(); n.nc.Close() })
}

// kill is the node dying: its connection and endpoint are gone at once.
func (n *clusterNode) kill() {
	n.nc.Close()
	n.srv.CloseClientConnections()
}

// waitHolder waits until one of nodes holds the tables' lease.
func waitHolder(t testing.TB, nodes ...*clusterNode) *clusterNode {
	t.Helper()
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		for _, n := range nodes {
			if n.svc.peer.isHome() {
				return n
			}
		}
	}
	t.Fatal("no node took the tables' lease")
	return nil
}

// TestTakeoverKeepsAcknowledgedWrites is docs/design/tables.md's
// "Takeover": the table node dies (its backbone connection closes, so it
// neither answers nor releases its lease) during a write flood through
// the other nodes; another node takes the lease, replays the change log
// and serves. Every acknowledged write is then read back through a
// surviving node, and the table's stream has exactly one record per item.
func TestTakeoverKeepsAcknowledgedWrites(t *testing.T) {
	st := storetest.Open(t)
	a := startNode(t, st, "a")
	holder := waitHolder(t, a)
	b, c := startNode(t, st, "b"), startNode(t, st, "c")
	ctx := t.Context()
	out, err := b.c.CreateTable(ctx, &ddb.CreateTableInput{TableName: aws.String("orders"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeKeysOnly}})
	if err != nil {
		t.Fatal(err)
	}
	arn := *out.TableDescription.LatestStreamArn

	var mu sync.Mutex
	var acked []string
	var afterKill atomic.Int64
	var killed atomic.Bool
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for g := range 6 {
		front := []*clusterNode{b, c}[g%2]
		wg.Go(func() {
			for i := 0; wctx.Err() == nil; i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				rctx, cancel := context.WithTimeout(wctx, 5*time.Second)
				_, err := front.c.PutItem(rctx, &ddb.PutItemInput{TableName: aws.String("orders"),
					Item: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}})
				cancel()
				if err != nil {
					continue // not acknowledged: maybe written, maybe not
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
				if killed.Load() {
					afterKill.Add(1)
				}
			}
		})
	}
	waitFor(t, "writes before the kill", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 150 })
	holder.kill()
	killed.Store(true)
	next := waitHolder(t, b, c)
	waitFor(t, "writes after the takeover", func() bool { return afterKill.Load() >= 150 })
	stop()
	wg.Wait()
	t.Logf("%d writes acknowledged, %d after the kill; %s took over from %s", len(acked), afterKill.Load(), next.name, holder.name)

	// Every acknowledged write, through the node that is not the holder.
	other := map[*clusterNode]*clusterNode{b: c, c: b}[next]
	scan := func() map[string]bool {
		present := map[string]bool{}
		var start map[string]types.AttributeValue
		for {
			page, err := other.c.Scan(ctx, &ddb.ScanInput{TableName: aws.String("orders"), ConsistentRead: aws.Bool(true), ExclusiveStartKey: start})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				present[it["id"].(*types.AttributeValueMemberS).Value] = true
			}
			if start = page.LastEvaluatedKey; start == nil {
				return present
			}
		}
	}
	present := scan()
	for _, id := range acked {
		if !present[id] {
			t.Errorf("acknowledged write %s is lost", id)
		}
	}
	// One stream record per item: none lost with the node, none relayed
	// twice by the old and the new holder. (A write whose client gave
	// up can still land after the scan: the second scan has it.)
	recs := readAll(t, streamsClient(other.srv.URL), arn, len(present))
	if again := scan(); len(again) > len(present) {
		present = again
		recs = readAll(t, streamsClient(other.srv.URL), arn, len(present))
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.Dynamodb.Keys["id"].(*stypes.AttributeValueMemberS).Value]++
	}
	for id, n := range seen {
		if n != 1 || !present[id] {
			t.Errorf("item %s (present %v) has %d stream records, want 1", id, present[id], n)
		}
	}
	if len(seen) != len(present) {
		t.Errorf("%d items have stream records, %d items are present", len(seen), len(present))
	}
	// The follower's own copy has every acknowledged write too.
	waitFor(t, "the follower's copy", func() bool {
		local := localIDs(t, other.svc.e, "orders")
		for _, id := range acked {
			if !local[id] {
				return false
			}
		}
		return true
	})
	// The holder purges what every live node has: the log does not grow
	// without end. A node started now, behind the purge, forwards, and
	// its store becomes a snapshot of a live node's (snapshot.go).
	waitFor(t, "a purge of the change log", func() bool {
		info, err := next.svc.e.log.stream.Info(ctx)
		return err == nil && info.State.FirstSeq > 1
	})
	d := startNode(t, st, "d")
	if got, err := d.c.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("orders"), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: acked[0]}}}); err != nil || got.Item == nil {
		t.Errorf("a read through a node behind the purged log: %v %v", got, err)
	}
	waitFor(t, "the new node's snapshot", func() bool {
		local := localIDs(t, d.svc.e, "orders")
		for _, id := range acked {
			if !local[id] {
				return false
			}
		}
		return !d.svc.e.behind.Load()
	})
}

// TestSnapshotBringsBackANodeBehindThePurge: a node stopped with its data
// directory kept while the log was purged past its store (its report
// gone, as after reportFresh) comes back, cannot replay, fetches a
// snapshot of the table node's store (its own writes and deletions since
// included, its stale copy gone), follows the log from the snapshot's
// position, and can take over when the table node dies.
func TestSnapshotBringsBackANodeBehindThePurge(t *testing.T) {
	st := storetest.Open(t)
	a := startNode(t, st, "a")
	waitHolder(t, a)
	bDir := t.TempDir()
	b := startNodeIn(t, st, "b", bDir)
	ctx := t.Context()
	createThings(t, a.c)
	has := func(n *clusterNode, want []string, gone ...string) func() bool {
		return func() bool {
			local := localIDs(t, n.svc.e, "things")
			for _, id := range want {
				if !local[id] {
					return false
				}
			}
			for _, id := range gone {
				if local[id] {
					return false
				}
			}
			return true
		}
	}
	var old, later []string
	for i := range 20 {
		old = append(old, fmt.Sprintf("old-%d", i))
		putThing(t, a.c, old[i])
	}
	waitFor(t, "the follower's copy", has(b, old))
	b.stop()
	staleAt := b.svc.e.logSeq
	// b is silent: its report no longer holds the purge back.
	if err := a.svc.peer.kv.Delete(ctx, reportKey("b")); err != nil {
		t.Fatal(err)
	}
	deleteThing(t, a.c, old[0])
	for i := range 20 {
		later = append(later, fmt.Sprintf("later-%d", i))
		putThing(t, a.c, later[i])
	}
	waitFor(t, "a purge past the stopped node's store", func() bool {
		info, err := a.svc.e.log.stream.Info(ctx)
		return err == nil && info.State.FirstSeq > staleAt+1
	})

	b = startNodeIn(t, st, "b", bDir)
	waitFor(t, "the snapshot on the node that was behind", func() bool {
		return has(b, append(later, old[1:]...), old[0])() && !b.svc.e.behind.Load()
	})
	// It follows the log from the snapshot's position...
	putThing(t, b.c, "after")
	waitFor(t, "a write after the snapshot on its copy", has(b, []string{"after"}))
	// ...and takes over.
	a.kill()
	waitHolder(t, b)
	got, err := b.c.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("things"), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: later[19]}}})
	if err != nil || got.Item == nil {
		t.Fatalf("read after the takeover: %v %v", got, err)
	}
	if files, _ := filepath.Glob(filepath.Join(bDir, "*")); len(files) != 1 {
		t.Errorf("store directory %v, want only %s", files, storeFile)
	}
}

// TestChangeLogFence: once another node has replayed the log and appended
// its barrier, a deposed table node that still believes it holds the
// lease cannot acknowledge a write: its append expects an older last
// sequence and fails, and nothing is written to its store or the log.
func TestChangeLogFence(t *testing.T) {
	st := storetest.Open(t)
	js := st.JetStream()
	open := func(node string) *engine {
		e, err := openEngine(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.close() })
		if e.log, err = openLog(t.Context(), js, 1, 0, node); err != nil {
			t.Fatal(err)
		}
		return e
	}
	old, next := open("old"), open("next")
	put := func(e *engine, k string) error {
		return e.write(t.Context(), func(w *wtx) error {
			return w.putIn(w.tx.Bucket(bucketTokens), bucketTokens, []byte(k), []byte("v"))
		})
	}
	old.writable.Store(true)
	if err := put(old, "before"); err != nil {
		t.Fatal(err)
	}
	next.logMu.Lock()
	err := next.catchUpLocked(t.Context())
	if err == nil {
		err = next.barrierLocked(2)
	}
	next.logMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if !hasToken(next, "before") {
		t.Fatal("the new holder's replay lacks the old holder's write")
	}
	err = put(old, "after")
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != "ServiceUnavailable" {
		t.Fatalf("a deposed holder's write: %v, want ServiceUnavailable", err)
	}
	if hasToken(old, "after") {
		t.Error("the deposed holder stored a write the log refused")
	}
	info, err := next.log.stream.Info(t.Context())
	if err != nil || info.State.Msgs != 2 {
		t.Fatalf("log: %v, %+v; want the write and the barrier", err, info)
	}
	// The new holder writes on from the barrier.
	next.writable.Store(true)
	if err := put(next, "new"); err != nil {
		t.Fatal(err)
	}
}

// localIDs are the ids of a table's items in one node's own store.
func localIDs(t *testing.T, e *engine, table string) map[string]bool {
	out := map[string]bool{}
	err := e.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(itemsBucket(table))
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			it, err := decodeItem(v)
			if err == nil {
				out[it["id"].S] = true
			}
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func hasToken(e *engine, k string) bool {
	var ok bool
	_ = e.view(func(tx *bolt.Tx) error { ok = tx.Bucket(bucketTokens).Get([]byte(k)) != nil; return nil })
	return ok
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestWipedBackboneReseedsFromTheBestStore: the backbone is wiped (a new
// one: the change log and the nodes' reports gone) while the nodes' data
// directories are kept. Their positions mean nothing in the new log
// (reseed.go): the node that takes the lease waits for the reports, seeds
// the log from the store with the highest position (the former table
// node's, which has writes the other never saw), and the other node's
// stale store is replaced by a snapshot (kept as tables.db.replaced).
// Writes then go on through either node.
func TestWipedBackboneReseedsFromTheBestStore(t *testing.T) {
	st := storetest.Open(t)
	aDir, bDir := t.TempDir(), t.TempDir()
	a := startNodeIn(t, st, "a", aDir)
	waitHolder(t, a)
	b := startNodeIn(t, st, "b", bDir)
	ctx := t.Context()
	createThings(t, a.c)
	var old, newer []string
	for i := range 10 {
		old = append(old, fmt.Sprintf("old-%d", i))
		putThing(t, a.c, old[i])
	}
	waitFor(t, "the follower's copy", func() bool { return len(localIDs(t, b.svc.e, "things")) == len(old) })
	b.stop()
	for i := range 10 {
		newer = append(newer, fmt.Sprintf("newer-%d", i))
		putThing(t, a.c, newer[i])
	}
	deleteThing(t, a.c, old[0])
	a.stop()

	wiped := storetest.Open(t)
	b = startNodeIn(t, wiped, "b", bDir) // the stale store first: it may well take the lease
	a = startNodeIn(t, wiped, "a", aDir)
	h := waitHolder(t, a, b)
	want := append(slices.Clone(newer), old[1:]...)
	for _, n := range []*clusterNode{a, b} {
		waitFor(t, "node "+n.name+"'s copy of the best store", func() bool {
			local := localIDs(t, n.svc.e, "things")
			for _, id := range want {
				if !local[id] {
					return false
				}
			}
			return !local[old[0]]
		})
	}
	putThing(t, b.c, "after")
	putThing(t, a.c, "after-2")
	got, err := b.c.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("things"), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: newer[9]}}})
	if err != nil || got.Item == nil {
		t.Fatalf("read after the reseed: %v %v", got, err)
	}
	other := map[*clusterNode]*clusterNode{a: b, b: a}[h]
	waitFor(t, "the follower's copy after the reseed", func() bool {
		l := localIDs(t, other.svc.e, "things")
		return l["after"] && l["after-2"]
	})
	if _, err := os.Stat(filepath.Join(bDir, storeFile+".replaced")); err != nil {
		t.Errorf("the stale store was not kept: %v", err)
	}
	t.Logf("%s took the lease after the wipe", h.name)
}

// TestStoreFromBeforeTheLogSeedsIt: a store written by a single node (or
// by a cluster from before the change log) has tables but no position.
// Started as a cluster node beside a new empty node, its store seeds the
// log and the empty node gets it by snapshot, whichever holds the lease.
func TestStoreFromBeforeTheLogSeedsIt(t *testing.T) {
	st := storetest.Open(t)
	dir := t.TempDir()
	single, err := New(t.Context(), Options{Dir: dir, JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(single))
	c := ddb.New(ddb.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	createThings(t, c)
	putThing(t, c, "kept")
	srv.Close()
	if err := single.Close(); err != nil {
		t.Fatal(err)
	}
	old := startNodeIn(t, st, "old", dir)
	fresh := startNode(t, st, "fresh")
	waitHolder(t, old, fresh)
	for _, n := range []*clusterNode{old, fresh} {
		waitFor(t, "node "+n.name+"'s copy", func() bool { return localIDs(t, n.svc.e, "things")["kept"] })
	}
	putThing(t, fresh.c, "new")
}

// TestLargeGroupInPieces: a group whose change is larger than one
// backbone message is appended as pieces, and a follower applies it whole
// with its last piece. Pieces of a group that never got its last piece
// (its holder died or was fenced mid-group) are applied nowhere, and a
// deposed holder cannot append a piece after the new holder's barrier.
func TestLargeGroupInPieces(t *testing.T) {
	st := storetest.Open(t)
	js := st.JetStream()
	open := func(node string) *engine {
		e, err := openEngine(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.close() })
		if e.log, err = openLog(t.Context(), js, 1, 0, node); err != nil {
			t.Fatal(err)
		}
		e.log.maxEntry = 512
		return e
	}
	big := func(e *engine, prefix string) error {
		return e.write(t.Context(), func(w *wtx) error {
			for i := range 20 {
				if err := w.putIn(w.tx.Bucket(bucketTokens), bucketTokens, fmt.Appendf(nil, "%s-%d", prefix, i), bytes.Repeat([]byte{'v'}, 100)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	catchUp := func(e *engine) {
		t.Helper()
		e.logMu.Lock()
		defer e.logMu.Unlock()
		if err := e.catchUpLocked(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	h, f := open("h"), open("f")
	h.writable.Store(true)
	if err := big(h, "whole"); err != nil {
		t.Fatal(err)
	}
	info, err := h.log.stream.Info(t.Context())
	if err != nil || info.State.Msgs < 4 {
		t.Fatalf("log %+v, %v: want the group in several pieces", info, err)
	}
	catchUp(f)
	for i := range 20 {
		if !hasToken(f, fmt.Sprintf("whole-%d", i)) {
			t.Fatalf("the follower lacks whole-%d", i)
		}
	}
	if f.positionLocked() != info.State.LastSeq {
		t.Errorf("follower position %d, log end %d", f.positionLocked(), info.State.LastSeq)
	}

	// The holder dies after two pieces of a group.
	h.logMu.Lock()
	prev := h.logSeq
	for i := range 2 {
		seq, err := h.sendLocked(append(appendHeader(nil, entryPart, "h", 1), fmt.Appendf(nil, "piece %d", i)...), prev)
		if err != nil {
			t.Fatal(err)
		}
		prev = seq
	}
	h.logMu.Unlock()
	n := open("n")
	n.logMu.Lock()
	err = n.catchUpLocked(t.Context())
	if err == nil {
		err = n.barrierLocked(2)
	}
	n.logMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if len(n.pend) != 0 {
		t.Error("the new holder keeps the dead group's pieces")
	}
	catchUp(f)
	if len(f.pend) != 0 || f.positionLocked() != n.logSeq {
		t.Errorf("follower: %d pieces held, position %d, want none and %d", len(f.pend), f.positionLocked(), n.logSeq)
	}
	// The deposed holder's next large group is fenced at its first piece.
	var ae *Error
	if err := big(h, "fenced"); !errors.As(err, &ae) || ae.Code != "ServiceUnavailable" {
		t.Fatalf("a deposed holder's large group: %v", err)
	}
	catchUp(f)
	if hasToken(h, "fenced-0") || hasToken(f, "fenced-0") {
		t.Error("a fenced group was stored")
	}
	// The new holder's large groups go on.
	n.writable.Store(true)
	if err := big(n, "next"); err != nil {
		t.Fatal(err)
	}
	catchUp(f)
	if !hasToken(f, "next-19") {
		t.Error("the follower lacks the new holder's group")
	}
}

// TestLargeBatchOnACluster: a BatchWriteItem larger than one backbone
// message (25 items of 390 KB, about 10 MB) sent to a node that forwards
// reaches the table node in pieces, is appended to the change log in
// pieces, and reaches the follower's copy whole; the BatchGetItem answer
// of the same items (also above one message) comes back in pieces.
func TestLargeBatchOnACluster(t *testing.T) {
	st := storetest.Open(t)
	a := startNode(t, st, "a")
	waitHolder(t, a)
	b := startNode(t, st, "b")
	ctx := t.Context()
	createThings(t, b.c)
	var writes []types.WriteRequest
	var keys []map[string]types.AttributeValue
	for i := range 25 {
		id := &types.AttributeValueMemberS{Value: fmt.Sprintf("big-%02d", i)}
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			"id": id, "blob": &types.AttributeValueMemberS{Value: strings.Repeat(string(rune('a'+i)), 390<<10)}}}})
		keys = append(keys, map[string]types.AttributeValue{"id": id})
	}
	out, err := b.c.BatchWriteItem(ctx, &ddb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"things": writes}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.UnprocessedItems) != 0 {
		t.Fatalf("unprocessed: %d tables", len(out.UnprocessedItems))
	}
	info, err := a.svc.e.log.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The barrier, the table, and the batch in at least two pieces (the
	// log may have been purged since).
	if info.State.LastSeq < 4 {
		t.Errorf("log: last entry %d; want the batch in pieces", info.State.LastSeq)
	}
	waitFor(t, "the follower's copy of the batch", func() bool { return len(localIDs(t, b.svc.e, "things")) == 25 })
	got := map[string]int{}
	for unprocessed := map[string]types.KeysAndAttributes{"things": {Keys: keys, ConsistentRead: aws.Bool(true)}}; len(unprocessed) > 0; {
		r, err := b.c.BatchGetItem(ctx, &ddb.BatchGetItemInput{RequestItems: unprocessed})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range r.Responses["things"] {
			got[it["id"].(*types.AttributeValueMemberS).Value] = len(it["blob"].(*types.AttributeValueMemberS).Value)
		}
		unprocessed = r.UnprocessedKeys
	}
	for _, k := range keys {
		if id := k["id"].(*types.AttributeValueMemberS).Value; got[id] != 390<<10 {
			t.Errorf("%s: %d bytes back", id, got[id])
		}
	}
}

// createThings creates the tests' table "things" (hash key id, a string).
func createThings(t *testing.T, c *ddb.Client) {
	t.Helper()
	if _, err := c.CreateTable(t.Context(), &ddb.CreateTableInput{TableName: aws.String("things"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest}); err != nil {
		t.Fatal(err)
	}
}

// putThing writes the item id to "things".
func putThing(t *testing.T, c *ddb.Client, id string) {
	t.Helper()
	if _, err := c.PutItem(t.Context(), &ddb.PutItemInput{TableName: aws.String("things"),
		Item: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}}); err != nil {
		t.Fatal(err)
	}
}

// deleteThing deletes the item id from "things".
func deleteThing(t *testing.T, c *ddb.Client, id string) {
	t.Helper()
	if _, err := c.DeleteItem(t.Context(), &ddb.DeleteItemInput{TableName: aws.String("things"),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}}); err != nil {
		t.Fatal(err)
	}
}
