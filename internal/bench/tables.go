package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
)

// Tables is DynamoDB's figures: durable PutItem and GetItem of a 1 KB item
// from 16 clients, beside the echo server at 16 clients in the same run.
type Tables struct {
	Clients  int     `json:"clients"`
	EchoRPS  float64 `json:"echo_rps"`
	PutItem  float64 `json:"put_items_per_s"`
	GetItem  float64 `json:"get_items_per_s"`
	PutRatio float64 `json:"ratio_put_to_echo"`
	GetRatio float64 `json:"ratio_get_to_echo"`
	Errors   int     `json:"errors"`
}

const tableClients = 16

// ddb calls one DynamoDB operation.
func (r *runner) ddb(ctx context.Context, op string, in any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s: %w", op, err)
	}
	_, err = r.signed(ctx, "dynamodb", b, map[string]string{"X-Amz-Target": "DynamoDB_20120810." + op, "Content-Type": "application/x-amz-json-1.0"})
	return err
}

// tables measures PutItem and GetItem against the echo server.
func (r *runner) tables(ctx context.Context, rep *Report, echo string) error {
	d := r.opts.Duration
	ts := &Tables{Clients: tableClients}
	rep.Tables = ts
	r.logf("tables: echo at %d clients for %s", tableClients, d)
	if _, err := r.load(ctx, tableClients, d/5, r.post(echo)); err != nil {
		return err
	}
	n, err := r.load(ctx, tableClients, d, r.post(echo))
	if err != nil {
		return err
	}
	ts.EchoRPS = math.Round(float64(n.ok) / d.Seconds())
	const table = "bench-items"
	if err := r.ddb(ctx, "CreateTable", map[string]any{"TableName": table, "BillingMode": "PAY_PER_REQUEST",
		"AttributeDefinitions": []map[string]string{{"AttributeName": "pk", "AttributeType": "S"}},
		"KeySchema":            []map[string]string{{"AttributeName": "pk", "KeyType": "HASH"}}}); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	data := strings.Repeat("x", 1000)
	var seq atomic.Int64
	put := func(ctx context.Context) error {
		i := seq.Add(1)
		return r.ddb(ctx, "PutItem", map[string]any{"TableName": table, "Item": map[string]any{
			"pk": map[string]string{"S": "k" + strconv.FormatInt(i, 10)}, "d": map[string]string{"S": data}}})
	}
	r.logf("tables: PutItem (1 KB, durable) from %d clients for %s", tableClients, d)
	if _, err := r.load(ctx, tableClients, d/5, put); err != nil {
		return err
	}
	n, err = r.load(ctx, tableClients, d, put)
	if err != nil {
		return err
	}
	ts.Errors += n.errs
	ts.PutItem = math.Round(float64(n.ok) / d.Seconds())
	written := seq.Load()
	var rd atomic.Int64
	get := func(ctx context.Context) error {
		i := rd.Add(1)%written + 1
		return r.ddb(ctx, "GetItem", map[string]any{"TableName": table, "Key": map[string]any{
			"pk": map[string]string{"S": "k" + strconv.FormatInt(i, 10)}}})
	}
	r.logf("tables: GetItem (1 KB) from %d clients for %s", tableClients, d)
	if _, err := r.load(ctx, tableClients, d/5, get); err != nil {
		return err
	}
	n, err = r.load(ctx, tableClients, d, get)
	if err != nil {
		return err
	}
	ts.Errors += n.errs
	ts.GetItem = math.Round(float64(n.ok) / d.Seconds())
	ts.PutRatio, ts.GetRatio = ratio(ts.PutItem, ts.EchoRPS), ratio(ts.GetItem, ts.EchoRPS)
	return nil
}

func writeTables(p func(string, ...any), t *Tables) {
	p("TABLES (DynamoDB, 1 KB items)\tclients\tper s\tof echo\terrors")
	p("PutItem (durable)\t%d\t%.0f\t%.0f%%\t%d", t.Clients, t.PutItem, t.PutRatio*100, t.Errors)
	p("GetItem\t%d\t%.0f\t%.0f%%\t", t.Clients, t.GetItem, t.GetRatio*100)
	p("Go HTTP echo (baseline)\t%d\t%.0f\t\t", t.Clients, t.EchoRPS)
}
