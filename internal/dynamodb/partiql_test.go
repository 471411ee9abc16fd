package dynamodb

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestParsePartiQL parses the statements of AWS's PartiQL reference for
// DynamoDB (select, insert, update, delete, functions, transactions) and
// refuses malformed ones with AWS's message.
func TestParsePartiQL(t *testing.T) {
	for _, c := range []struct {
		stmt, kind, table string
		params            int
	}{
		{`SELECT OrderID, Total FROM "Orders" WHERE OrderID = 1`, "SELECT", "Orders", 0},
		{`SELECT OrderID, Total FROM "Orders" WHERE OrderID IN [1, 2, 3] ORDER BY OrderID DESC`, "SELECT", "Orders", 0},
		{`SELECT * FROM "Orders" WHERE Total BETWEEN 500 AND 600`, "SELECT", "Orders", 0},
		{`SELECT Devices.FireStick.DateWatched[0] FROM WatchList WHERE CustomerID= 'C1' AND MovieID= 'M1'`, "SELECT", "WatchList", 0},
		{`SELECT * FROM "Orders" WHERE OrderID = 100 or OrderID = 200`, "SELECT", "Orders", 0},
		{`SELECT * FROM "Orders" WHERE OrderID = 100 and Address='some address'`, "SELECT", "Orders", 0},
		{`SELECT * FROM "Orders"."OrderIndex" WHERE Status = ?`, "SELECT", "Orders", 1},
		{`SELECT * FROM "Orders" WHERE "OrderID"=1 AND "Address" IS MISSING`, "SELECT", "Orders", 0},
		{`SELECT * FROM "Orders" WHERE "OrderID"=1 AND exists("Address")`, "SELECT", "Orders", 0},
		{`SELECT * FROM "Orders" WHERE "OrderID"=1 AND begins_with("Address", '7834 24th')`, "SELECT", "Orders", 0},
		{`SELECT * FROM "Orders" WHERE "OrderID"=1 AND contains("Address", 'Kirkland')`, "SELECT", "Orders", 0},
		{`SELECT * FROM "Orders" WHERE "OrderID"=1 AND attribute_type("Shipping", 'M')`, "SELECT", "Orders", 0},
		{`SELECT * FROM "Orders" WHERE "OrderID"=1 AND size("Image") > 300`, "SELECT", "Orders", 0},
		{`SELECT * FROM "Orders" WHERE NOT (Total >= -1.5e3) AND Tags <> <<'a', 'b'>>`, "SELECT", "Orders", 0},
		{`INSERT INTO "Music" value {'Artist' : 'Acme Band','SongTitle' : 'PartiQL Rocks'}`, "INSERT", "Music", 0},
		{`INSERT INTO Music VALUE {'Artist': ?, 'SongTitle': ?, 'Awards': {'Grammys': [2020, 2018]}, 'It''s': TRUE, 'n': NULL}`, "INSERT", "Music", 2},
		{`UPDATE "Music" SET AwardsWon=1 SET AwardDetail={'Grammys':[2020, 2018]} WHERE Artist='Acme Band' AND SongTitle='PartiQL Rocks'`, "UPDATE", "Music", 0},
		{`UPDATE "Music" SET AwardsWon=1 SET AwardDetail={'Grammys':[2020, 2018]} WHERE Artist='Acme Band' AND SongTitle='PartiQL Rocks' RETURNING ALL OLD *`, "UPDATE", "Music", 0},
		{`UPDATE "Music" SET AwardDetail.Grammys =list_append(AwardDetail.Grammys,[2016]) WHERE Artist='Acme Band' AND SongTitle='PartiQL Rocks'`, "UPDATE", "Music", 0},
		{`UPDATE "Music" REMOVE AwardDetail.Grammys[2] WHERE Artist='Acme Band' AND SongTitle='PartiQL Rocks'`, "UPDATE", "Music", 0},
		{`UPDATE "Music" SET BandMembers =set_add(BandMembers, <<'newmember'>>) WHERE Artist='Acme Band' AND SongTitle='PartiQL Rocks'`, "UPDATE", "Music", 0},
		{`UPDATE "Music" SET BandMembers =set_delete(BandMembers, <<'newmember'>>) WHERE Artist='Acme Band' AND SongTitle='PartiQL Rocks' RETURNING MODIFIED NEW *`, "UPDATE", "Music", 0},
		{`UPDATE Music SET plays = plays + ?, x = ? REMOVE y, z WHERE Artist = ? AND SongTitle = ?`, "UPDATE", "Music", 4},
		{`DELETE FROM "Music" WHERE "Artist" = 'Acme Band' AND "SongTitle" = 'PartiQL Rocks'`, "DELETE", "Music", 0},
		{`DELETE FROM "Music" WHERE "Artist" = 'Acme Band' AND "SongTitle" = 'PartiQL Rocks' RETURNING ALL OLD *`, "DELETE", "Music", 0},
		{`EXISTS(SELECT * FROM "Music" where Artist='No One You Know' and SongTitle='Call Me Today' and Awards is MISSING)`, "SELECT", "Music", 0},
		{"select *\n  from \"my-table\" -- a comment\n where pk = ?", "SELECT", "my-table", 1},
	} {
		st, err := parsePartiQL(c.stmt)
		if err != nil {
			t.Errorf("%s: %v", c.stmt, err)
			continue
		}
		if st.kind != c.kind || st.table != c.table || st.params != c.params {
			t.Errorf("%s: %s %s %d params, want %s %s %d", c.stmt, st.kind, st.table, st.params, c.kind, c.table, c.params)
		}
	}
	for _, c := range []struct{ stmt, msg string }{
		{`UPSERT INTO t VALUE {'a': 1}`, "Expected data manipulation"},
		{`SELECT * FROM`, "expected a name at end of statement"},
		{`SELECT * FROM t WHERE`, "expected a value at end of statement"},
		{`SELECT * FROM t WHERE a = 'x`, "unterminated"},
		{`SELECT * FROM t WHERE a = 1 extra`, "unexpected token 'extra'"},
		{`UPDATE t WHERE a = 1`, "expected SET or REMOVE"},
		{`UPDATE t SET a = 1`, "expected WHERE at end of statement"},
		{`DELETE FROM t WHERE a = 1 RETURNING ALL NEW *`, "expected OLD or NEW"},
		{`SELECT * FROM t WHERE lower(a) = 'x'`, "function lower is not supported"},
		{`SELECT * FROM t WHERE a = 1 ; DROP TABLE t`, "unexpected character ';'"},
		{`INSERT INTO t VALUE {a: 1}`, "expected a string key"},
		{`SELECT * FROM t WHERE a[x] = 1`, "expected a list index"},
	} {
		_, err := parsePartiQL(c.stmt)
		var e *Error
		if !errors.As(err, &e) || e.Code != "ValidationException" ||
			!strings.HasPrefix(e.Msg, "Statement wasn't well formed, can't be processed: ") || !strings.Contains(e.Msg, c.msg) {
			t.Errorf("%s: %v, want ValidationException with %q", c.stmt, err, c.msg)
		}
	}
	if _, err := parsePartiQL("SELECT * FROM t WHERE a = '" + strings.Repeat("x", maxStatementLen) + "'"); err == nil {
		t.Error("an oversized statement parsed")
	}
}

func stmtParams(vs ...string) []types.AttributeValue {
	var out []types.AttributeValue
	for _, v := range vs {
		if n, ok := strings.CutPrefix(v, "N:"); ok {
			out = append(out, &types.AttributeValueMemberN{Value: n})
		} else {
			out = append(out, &types.AttributeValueMemberS{Value: v})
		}
	}
	return out
}

// TestPartiQL runs statements through aws-sdk-go-v2 against the service:
// INSERT, SELECT by key and by other attributes (Query and Scan, with
// pagination), UPDATE with SET/REMOVE and nested paths, DELETE, the
// documented errors, BatchExecuteStatement and ExecuteTransaction.
func TestPartiQL(t *testing.T) {
	_, c, _ := serve(t)
	ctx := t.Context()
	createOrders(t, c, "orders")
	exec := func(stmt string, params ...string) (*ddb.ExecuteStatementOutput, error) {
		in := &ddb.ExecuteStatementInput{Statement: aws.String(stmt)}
		if len(params) > 0 {
			in.Parameters = stmtParams(params...)
		}
		return c.ExecuteStatement(ctx, in)
	}
	must := func(stmt string, params ...string) *ddb.ExecuteStatementOutput {
		t.Helper()
		out, err := exec(stmt, params...)
		if err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		return out
	}
	for i := 1; i <= 5; i++ {
		status := "open"
		if i%2 == 0 {
			status = "shipped"
		}
		must(`INSERT INTO orders VALUE {'pk': 'c1', 'sk': ?, 'status': ?, 'total': ?, 'lines': [{'sku': 'a', 'qty': 1}]}`,
			"N:"+string(rune('0'+i)), status, "N:"+string(rune('0'+i))+"0")
	}
	if _, err := exec(`INSERT INTO orders VALUE {'pk': 'c1', 'sk': 1}`); !strings.HasPrefix(apiCode(err), "DuplicateItemException: Duplicate primary key exists in table") {
		t.Errorf("a duplicate INSERT: %v", err)
	}
	out := must(`SELECT sk, total FROM orders WHERE pk = ? AND sk >= 2 AND total < 50 ORDER BY sk DESC`, "c1")
	if len(out.Items) != 3 || out.Items[0]["sk"].(*types.AttributeValueMemberN).Value != "4" || out.Items[0]["status"] != nil {
		t.Errorf("a query: %v", out.Items)
	}
	out = must(`SELECT * FROM orders WHERE status = 'shipped'`)
	if len(out.Items) != 2 {
		t.Errorf("a scan on a non-key attribute: %d items", len(out.Items))
	}
	out = must(`SELECT * FROM "orders"."by-status" WHERE status = 'open'`)
	if len(out.Items) != 3 {
		t.Errorf("a query of an index: %d items", len(out.Items))
	}
	// Pagination: Limit 2 over 5 items.
	var seen int
	var next *string
	for range 5 {
		p, err := c.ExecuteStatement(ctx, &ddb.ExecuteStatementInput{Statement: aws.String(`SELECT * FROM orders WHERE pk = 'c1'`),
			Limit: aws.Int32(2), NextToken: next})
		if err != nil {
			t.Fatal(err)
		}
		seen += len(p.Items)
		if next = p.NextToken; next == nil {
			break
		}
	}
	if seen != 5 {
		t.Errorf("paged through %d items, want 5", seen)
	}
	if _, err := c.ExecuteStatement(ctx, &ddb.ExecuteStatementInput{Statement: aws.String(`SELECT * FROM orders`),
		NextToken: aws.String("bogus")}); !strings.HasPrefix(apiCode(err), "ValidationException:") {
		t.Errorf("a forged NextToken: %v", err)
	}

	must(`UPDATE orders SET total = total + ?, lines[0].qty = 5, note = 'hi' REMOVE status WHERE pk = 'c1' AND sk = 1`, "N:1")
	out = must(`SELECT * FROM orders WHERE pk = 'c1' AND sk = 1`)
	it := out.Items[0]
	if it["total"].(*types.AttributeValueMemberN).Value != "11" || it["status"] != nil ||
		it["lines"].(*types.AttributeValueMemberL).Value[0].(*types.AttributeValueMemberM).Value["qty"].(*types.AttributeValueMemberN).Value != "5" {
		t.Errorf("after UPDATE: %v", it)
	}
	r := must(`UPDATE orders SET tags = set_add(tags, <<'x', 'y'>>) WHERE pk = 'c1' AND sk = 1 RETURNING MODIFIED NEW *`)
	if len(r.Items) != 1 || len(r.Items[0]["tags"].(*types.AttributeValueMemberSS).Value) != 2 {
		t.Errorf("RETURNING MODIFIED NEW: %v", r.Items)
	}
	for _, c := range []struct{ stmt, code string }{
		{`UPDATE orders SET total = 1 WHERE pk = 'c1' AND sk = 99`, "ConditionalCheckFailedException"},
		{`UPDATE orders SET total = 1 WHERE pk = 'c1' AND sk = 1 AND total > 1000`, "ConditionalCheckFailedException"},
		{`UPDATE orders SET total = 1 WHERE pk = 'c1'`, "ValidationException: Where clause does not contain a mandatory equality on all key attributes"},
		{`UPDATE orders SET pk = 'x' WHERE pk = 'c1' AND sk = 1`, "ValidationException"},
		{`SELECT * FROM nope WHERE pk = 'x'`, "ResourceNotFoundException"},
		{`SELECT * FROM orders WHERE pk = ?`, "ValidationException: Number of parameters in request and statement don't match."},
		{`SELECT * FROM orders ORDER BY sk`, "ValidationException"},
		{`DELETE FROM orders WHERE pk = 'c1' AND sk = 2 AND status = 'open'`, "ConditionalCheckFailedException"},
	} {
		if _, err := exec(c.stmt); !strings.HasPrefix(apiCode(err), c.code) {
			t.Errorf("%s: %v, want %s", c.stmt, err, c.code)
		}
	}
	r = must(`DELETE FROM orders WHERE pk = 'c1' AND sk = 2 RETURNING ALL OLD *`)
	if len(r.Items) != 1 || r.Items[0]["status"].(*types.AttributeValueMemberS).Value != "shipped" {
		t.Errorf("DELETE RETURNING ALL OLD: %v", r.Items)
	}
	must(`DELETE FROM orders WHERE pk = 'c1' AND sk = 2`) // no item: nothing to do

	// Oversized statements and parameters.
	if _, err := exec(`SELECT * FROM orders WHERE pk = '` + strings.Repeat("x", 9000) + `'`); !strings.HasPrefix(apiCode(err), "ValidationException:") {
		t.Errorf("an oversized statement: %v", err)
	}
	if _, err := exec(`INSERT INTO orders VALUE {'pk': 'big', 'sk': 1, 'blob': ?}`, strings.Repeat("x", 400*1024)); !strings.HasPrefix(apiCode(err), "ValidationException: Item size has exceeded the maximum allowed size") {
		t.Errorf("an oversized parameter: %v", err)
	}

	// BatchExecuteStatement: per-statement results and errors.
	b, err := c.BatchExecuteStatement(ctx, &ddb.BatchExecuteStatementInput{Statements: []types.BatchStatementRequest{
		{Statement: aws.String(`INSERT INTO orders VALUE {'pk': 'c2', 'sk': 1}`)},
		{Statement: aws.String(`INSERT INTO orders VALUE {'pk': 'c1', 'sk': 1}`)},
		{Statement: aws.String(`UPDATE orders SET total = 7 WHERE pk = ? AND sk = ?`), Parameters: stmtParams("c2", "N:1")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Responses) != 3 || b.Responses[0].Error != nil || b.Responses[1].Error == nil ||
		b.Responses[1].Error.Code != types.BatchStatementErrorCodeEnumDuplicateItem || b.Responses[2].Error != nil {
		t.Errorf("batch writes: %+v", b.Responses)
	}
	b, err = c.BatchExecuteStatement(ctx, &ddb.BatchExecuteStatementInput{Statements: []types.BatchStatementRequest{
		{Statement: aws.String(`SELECT * FROM orders WHERE pk = 'c2' AND sk = 1`)},
		{Statement: aws.String(`SELECT * FROM orders WHERE pk = 'c9' AND sk = 1`)},
	}})
	if err != nil || len(b.Responses) != 2 || b.Responses[0].Item["total"] == nil || b.Responses[1].Item != nil {
		t.Errorf("batch reads: %+v %v", b, err)
	}
	if _, err := c.BatchExecuteStatement(ctx, &ddb.BatchExecuteStatementInput{Statements: []types.BatchStatementRequest{
		{Statement: aws.String(`SELECT * FROM orders WHERE pk = 'c2' AND sk = 1`)},
		{Statement: aws.String(`DELETE FROM orders WHERE pk = 'c2' AND sk = 1`)},
	}}); !strings.HasPrefix(apiCode(err), "ValidationException:") {
		t.Errorf("a mixed batch: %v", err)
	}

	// ExecuteTransaction: all or nothing, EXISTS as a condition.
	tx := func(stmts ...string) error {
		var ts []types.ParameterizedStatement
		for _, s := range stmts {
			ts = append(ts, types.ParameterizedStatement{Statement: aws.String(s)})
		}
		_, err := c.ExecuteTransaction(ctx, &ddb.ExecuteTransactionInput{TransactStatements: ts})
		return err
	}
	if err := tx(`EXISTS(SELECT * FROM orders WHERE pk = 'c1' AND sk = 1 AND total = 11)`,
		`INSERT INTO orders VALUE {'pk': 'c3', 'sk': 1}`, `UPDATE orders SET total = 8 WHERE pk = 'c2' AND sk = 1`); err != nil {
		t.Fatalf("a transaction: %v", err)
	}
	err = tx(`INSERT INTO orders VALUE {'pk': 'c4', 'sk': 1}`, `INSERT INTO orders VALUE {'pk': 'c3', 'sk': 1}`)
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || len(tce.CancellationReasons) != 2 || aws.ToString(tce.CancellationReasons[1].Code) != "DuplicateItem" {
		t.Errorf("a transaction with a duplicate INSERT: %v", err)
	}
	if out := must(`SELECT * FROM orders WHERE pk = 'c4'`); len(out.Items) != 0 {
		t.Error("a cancelled transaction wrote")
	}
	tr, err := c.ExecuteTransaction(ctx, &ddb.ExecuteTransactionInput{TransactStatements: []types.ParameterizedStatement{
		{Statement: aws.String(`SELECT total FROM orders WHERE pk = 'c2' AND sk = 1`)}}})
	if err != nil || len(tr.Responses) != 1 || tr.Responses[0].Item["total"].(*types.AttributeValueMemberN).Value != "8" {
		t.Errorf("a read transaction: %v %v", tr, err)
	}
}

// TestPartiQLAccesses names the IAM actions and tables of PartiQL
// statements and of multi-item requests, as the front door authorises
// them.
func TestPartiQLAccesses(t *testing.T) {
	for _, c := range []struct {
		op, body string
		want     []Access
	}{
		{"ExecuteStatement", `{"Statement":"SELECT * FROM \"secret\".\"idx\" WHERE a = 1"}`,
			[]Access{{Action: "dynamodb:PartiQLSelect", Table: "secret", Index: "idx"}}},
		{"BatchExecuteStatement", `{"Statements":[{"Statement":"INSERT INTO a VALUE {'k': 1}"},{"Statement":"DELETE FROM b WHERE k = 1"}]}`,
			[]Access{{Action: "dynamodb:PartiQLInsert", Table: "a"}, {Action: "dynamodb:PartiQLDelete", Table: "b"}}},
		{"ExecuteTransaction", `{"TransactStatements":[{"Statement":"UPDATE c SET x = 1 WHERE k = 1"},{"Statement":"EXISTS(SELECT * FROM d WHERE k = 1)"}]}`,
			[]Access{{Action: "dynamodb:PartiQLUpdate", Table: "c"}, {Action: "dynamodb:PartiQLSelect", Table: "d"}}},
		{"TransactWriteItems", `{"TransactItems":[{"Put":{"TableName":"e"}},{"ConditionCheck":{"TableName":"f"}}]}`,
			[]Access{{Action: "dynamodb:PutItem", Table: "e"}, {Action: "dynamodb:ConditionCheckItem", Table: "f"}}},
		{"BatchWriteItem", `{"RequestItems":{"g":[]}}`, []Access{{Action: "dynamodb:BatchWriteItem", Table: "g"}}},
	} {
		got, ok := Accesses(c.op, []byte(c.body))
		if !ok || len(got) != len(c.want) {
			t.Errorf("%s: %v %v, want %v", c.op, got, ok, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.op, got, c.want)
			}
		}
	}
	// TableName as the operation decodes it: the last of members that
	// match case-insensitively.
	if got, ok := Accesses("PutItem", []byte(`{"TableName":"a","tablename":"b","TableArn":"arn:aws:dynamodb:us-east-1:1:table/a"}`)); !ok ||
		len(got) != 1 || got[0] != (Access{Action: "dynamodb:PutItem", Table: "b"}) {
		t.Errorf("PutItem with a case twin: %v %v", got, ok)
	}
	if got, _ := Accesses("GetItem", []byte(`{}`)); len(got) != 1 || got[0].Table != "*" {
		t.Errorf("GetItem without TableName: %v", got)
	}
	if _, ok := Accesses("TagResource", []byte(`{}`)); ok {
		t.Error("TagResource names its table by ResourceArn")
	}
}
