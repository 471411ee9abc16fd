package sfn

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A distributed Map (ItemProcessor.ProcessorConfig.Mode DISTRIBUTED)
// reads its items from S3 (ItemReader: a JSON array, JSON Lines or a CSV
// object through s3:getObject, or the objects of a listing through
// s3:listObjectsV2), groups them (ItemBatcher) and writes its results to
// S3 (ResultWriter), all through the node's S3 API as a Task calls it.
//
// With ExecutionType STANDARD each item (or batch) runs as a child
// execution of a Map Run (maprun.go); with EXPRESS the iterations run in
// the parent's runner, in memory (up to maxDistributedConcurrency at
// once). On a resume after a crash the reader is read again; an object
// changed in between changes the items not yet run.

// maxDistributedConcurrency is how many iterations a distributed Map
// runs at once when MaxConcurrency is 0 (AWS: 10,000 child executions;
// here they share one execution's runner).
const maxDistributedConcurrency = 1000

type itemReader struct {
	resource     string // "getObject" or "listObjectsV2"
	params       *tmpl
	args         *jtmpl
	inputType    string // JSON, JSONL, CSV
	headerFirst  bool
	headers      []string
	delimiter    rune
	maxItems     int64
	maxItemsExpr *jexpr
}

type itemBatcher struct {
	maxItems, maxBytes int64
	batchInput         *tmpl
	batchInputJ        *jtmpl
}

type resultWriter struct {
	params *tmpl
	args   *jtmpl
}

var csvDelimiters = map[string]rune{"COMMA": ',', "PIPE": '|', "SEMICOLON": ';', "SPACE": ' ', "TAB": '\t'}

// distributed parses a Map's ItemReader, ItemBatcher, ResultWriter and
// Label; the first three need DISTRIBUTED mode.
func (p *parser) distributed(s *State, raw map[string]json.RawMessage, loc string) {
	for _, f := range []string{"ItemReader", "ItemBatcher", "ResultWriter"} {
		if _, ok := raw[f]; ok && !s.Distributed {
			p.schema(loc+"/"+f, "The field '%s' is only supported in a Map whose ItemProcessor's ProcessorConfig.Mode is DISTRIBUTED", f)
			return
		}
	}
	if v, ok := raw["Label"]; ok {
		p.str(v, loc+"/Label", "Label", &s.Label)
	}
	if v, ok := raw["ItemReader"]; ok {
		s.Reader = p.itemReader(s, v, loc+"/ItemReader")
	}
	if v, ok := raw["ItemBatcher"]; ok {
		s.Batcher = p.itemBatcher(s, v, loc+"/ItemBatcher")
	}
	if v, ok := raw["ResultWriter"]; ok {
		s.Writer = p.resultWriter(s, v, loc+"/ResultWriter")
	}
}

// payloadField parses the Parameters (JSONPath) or Arguments (JSONata)
// of an ItemReader or ResultWriter.
func (p *parser) payloadField(s *State, raw map[string]json.RawMessage, loc string) (*tmpl, *jtmpl) {
	want, other := "Parameters", "Arguments"
	if s.JSONata {
		want, other = other, want
	}
	if _, ok := raw[other]; ok {
		p.schema(loc, "Field '%s' is not supported here; use '%s'", other, want)
	}
	v, ok := raw[want]
	if !ok {
		p.schema(loc, "These fields are required: [%s]", want)
		return nil, nil
	}
	if s.JSONata {
		return nil, p.jsonataTmpl(v, loc+"/"+want, want)
	}
	return p.template(v, loc+"/"+want, want), nil
}

func (p *parser) itemReader(s *State, b json.RawMessage, loc string) *itemReader {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		p.schema(loc, "The field 'ItemReader' must be an object")
		return nil
	}
	for _, k := range sortedKeys(raw) {
		switch k {
		case "Resource", "ReaderConfig", "Parameters", "Arguments":
		default:
			p.schema(loc, "Field '%s' is not supported", k)
		}
	}
	r := &itemReader{delimiter: ','}
	var res string
	if v, ok := raw["Resource"]; !ok || !p.str(v, loc+"/Resource", "Resource", &res) {
		p.schema(loc, "These fields are required: [Resource]")
		return nil
	}
	switch res {
	case "arn:aws:states:::s3:getObject":
		r.resource = "getObject"
	case "arn:aws:states:::s3:listObjectsV2":
		r.resource = "listObjectsV2"
	default:
		p.schema(loc+"/Resource", "Nimbus supports ItemReader resources arn:aws:states:::s3:getObject and arn:aws:states:::s3:listObjectsV2, not %s", res)
		return nil
	}
	r.params, r.args = p.payloadField(s, raw, loc)
	if v, ok := raw["ReaderConfig"]; ok {
		var cfg map[string]json.RawMessage
		if err := json.Unmarshal(v, &cfg); err != nil {
			p.schema(loc+"/ReaderConfig", "The field 'ReaderConfig' must be an object")
			return r
		}
		l := loc + "/ReaderConfig"
		for _, k := range sortedKeys(cfg) {
			switch k {
			case "InputType":
				p.str(cfg[k], l+"/InputType", k, &r.inputType)
				switch r.inputType {
				case "JSON", "JSONL", "CSV":
				case "MANIFEST", "PARQUET":
					p.schema(l+"/InputType", "Nimbus does not support the ItemReader InputType %s yet", r.inputType)
				default:
					p.schema(l+"/InputType", "The value for the field 'InputType' must be one of [CSV, JSON, JSONL, MANIFEST, PARQUET]")
				}
			case "CSVHeaderLocation":
				var h string
				p.str(cfg[k], l+"/"+k, k, &h)
				switch h {
				case "FIRST_ROW":
					r.headerFirst = true
				case "GIVEN":
				default:
					p.schema(l+"/"+k, "The value for the field 'CSVHeaderLocation' must be one of [FIRST_ROW, GIVEN]")
				}
			case "CSVHeaders":
				if err := json.Unmarshal(cfg[k], &r.headers); err != nil {
					p.schema(l+"/"+k, "The field 'CSVHeaders' must be an array of strings")
				}
			case "CSVDelimiter":
				var d string
				p.str(cfg[k], l+"/"+k, k, &d)
				c, ok := csvDelimiters[d]
				if !ok {
					p.schema(l+"/"+k, "The value for the field 'CSVDelimiter' must be one of [COMMA, PIPE, SEMICOLON, SPACE, TAB]")
				}
				r.delimiter = c
			case "MaxItems":
				var str string
				if s.JSONata && json.Unmarshal(cfg[k], &str) == nil && isJSONataString(str) {
					r.maxItemsExpr = p.jexpr(str, l+"/"+k, k)
					continue
				}
				p.posInt(cfg[k], l+"/"+k, k, &r.maxItems, 0, 100000000)
			default:
				p.schema(l, "Field '%s' is not supported", k)
			}
		}
	}
	switch {
	case r.resource == "getObject" && r.inputType == "":
		p.schema(loc+"/ReaderConfig", "An ItemReader reading s3:getObject needs ReaderConfig.InputType")
	case r.inputType == "CSV" && !r.headerFirst && len(r.headers) == 0:
		p.schema(loc+"/ReaderConfig", "A CSV ItemReader needs CSVHeaderLocation FIRST_ROW or CSVHeaders")
	}
	return r
}

func (p *parser) itemBatcher(s *State, b json.RawMessage, loc string) *itemBatcher {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		p.schema(loc, "The field 'ItemBatcher' must be an object")
		return nil
	}
	ib := &itemBatcher{}
	for _, k := range sortedKeys(raw) {
		switch k {
		case "MaxItemsPerBatch":
			p.posInt(raw[k], loc+"/"+k, k, &ib.maxItems, 1, 100000000)
		case "MaxInputBytesPerBatch":
			p.posInt(raw[k], loc+"/"+k, k, &ib.maxBytes, 1, MaxPayloadBytes)
		case "BatchInput":
			if s.JSONata {
				ib.batchInputJ = p.jsonataTmpl(raw[k], loc+"/"+k, k)
			} else {
				ib.batchInput = p.template(raw[k], loc+"/"+k, k)
			}
		default:
			p.schema(loc, "Field '%s' is not supported", k)
		}
	}
	if ib.maxItems == 0 && ib.maxBytes == 0 {
		p.schema(loc, "An ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch")
	}
	return ib
}

func (p *parser) resultWriter(s *State, b json.RawMessage, loc string) *resultWriter {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		p.schema(loc, "The field 'ResultWriter' must be an object")
		return nil
	}
	for _, k := range sortedKeys(raw) {
		switch k {
		case "Resource", "Parameters", "Arguments":
		default:
			p.schema(loc, "Field '%s' is not supported", k)
		}
	}
	var res string
	if v, ok := raw["Resource"]; !ok || !p.str(v, loc+"/Resource", "Resource", &res) || res != "arn:aws:states:::s3:putObject" {
		p.schema(loc+"/Resource", "The ResultWriter's Resource must be arn:aws:states:::s3:putObject")
		return nil
	}
	w := &resultWriter{}
	w.params, w.args = p.payloadField(s, raw, loc)
	return w
}

// parseItems decodes an object an ItemReader read.
func parseItems(data []byte, r *itemReader) ([]any, error) {
	switch r.inputType {
	case "JSON":
		v, err := decodeJSON(data)
		if err != nil {
			return nil, fmt.Errorf("the object is not JSON: %w", err)
		}
		items, ok := v.([]any)
		if !ok {
			return nil, errors.New("the object is not a JSON array")
		}
		return items, nil
	case "JSONL":
		var items []any
		for i, line := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			v, err := decodeJSON(line)
			if err != nil {
				return nil, fmt.Errorf("line %d is not JSON: %w", i+1, err)
			}
			items = append(items, v)
		}
		return items, nil
	case "CSV":
		cr := csv.NewReader(bytes.NewReader(data))
		cr.Comma = r.delimiter
		cr.FieldsPerRecord = -1
		headers := r.headers
		var items []any
		for line := 1; ; line++ {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				return items, nil
			}
			if err != nil {
				return nil, fmt.Errorf("the CSV is malformed: %w", err)
			}
			if r.headerFirst && headers == nil {
				headers = rec
				continue
			}
			if len(rec) > len(headers) {
				return nil, fmt.Errorf("row %d has %d fields, more than the %d headers", line, len(rec), len(headers))
			}
			m := make(map[string]any, len(headers))
			for i, h := range headers {
				m[h] = ""
				if i < len(rec) {
					m[h] = rec[i]
				}
			}
			items = append(items, m)
		}
	}
	return nil, fmt.Errorf("unknown InputType %q", r.inputType)
}

// readerFailed is States.ItemReaderFailed.
func readerFailed(format string, args ...any) *Failure {
	return &Failure{Name: ErrItemReaderFailed, Cause: fmt.Sprintf(format, args...)}
}

// readItems runs the ItemReader.
func (r *run) readItems(ctx context.Context, st *State, env *intrinsicEnv, effective any) ([]any, error) {
	rd := st.Reader
	var params any
	var err error
	if rd.args != nil {
		params, err = rd.args.eval(env.j, "Arguments")
	} else {
		e := *env
		e.input = effective
		params, err = rd.params.eval(&e)
	}
	if err != nil {
		return nil, err
	}
	m, ok := params.(map[string]any)
	if !ok {
		return nil, readerFailed("The ItemReader's Parameters must be an object")
	}
	maxItems := rd.maxItems
	if rd.maxItemsExpr != nil {
		v, err := rd.maxItemsExpr.eval(env.j, "MaxItems")
		if err != nil {
			return nil, err
		}
		n, ok := intArg(v)
		if !ok || n < 0 {
			return nil, queryError("MaxItems", rd.maxItemsExpr.src, "the value must be a non-negative integer")
		}
		maxItems = n
	}
	var items []any
	switch rd.resource {
	case "getObject":
		res, f := r.callService(ctx, "s3", "GetObject", "S3", m)
		if f != nil {
			return nil, readerFailed("Reading s3://%v/%v failed: %s: %s", m["Bucket"], m["Key"], f.Name, f.Cause)
		}
		body, _ := res.(map[string]any)["Body"].(string)
		if items, err = parseItems([]byte(body), rd); err != nil {
			return nil, readerFailed("s3://%v/%v: %v", m["Bucket"], m["Key"], err)
		}
	case "listObjectsV2":
		req := copyMap(m)
		for {
			res, f := r.callService(ctx, "s3", "ListObjectsV2", "S3", req)
			if f != nil {
				return nil, readerFailed("Listing s3://%v failed: %s: %s", m["Bucket"], f.Name, f.Cause)
			}
			rm, _ := res.(map[string]any)
			contents, _ := rm["Contents"].([]any)
			for _, c := range contents {
				o, _ := c.(map[string]any)
				items = append(items, map[string]any{"Etag": o["ETag"], "Key": o["Key"], "LastModified": o["LastModified"],
					"Size": o["Size"], "StorageClass": o["StorageClass"]})
			}
			next, _ := rm["NextContinuationToken"].(string)
			if truncated, _ := rm["IsTruncated"].(bool); !truncated || next == "" || (maxItems > 0 && int64(len(items)) >= maxItems) {
				break
			}
			req["ContinuationToken"] = next
		}
	}
	if maxItems > 0 && int64(len(items)) > maxItems {
		items = items[:maxItems]
	}
	return items, nil
}

// batch groups items as ItemBatcher says: {"BatchInput": ..., "Items": [...]}.
func (r *run) batch(st *State, env *intrinsicEnv, effective any, items []any) ([]any, error) {
	ib := st.Batcher
	var batchInput any
	var err error
	switch {
	case ib.batchInputJ != nil:
		batchInput, err = ib.batchInputJ.eval(env.j, "BatchInput")
	case ib.batchInput != nil:
		e := *env
		e.input = effective
		batchInput, err = ib.batchInput.eval(&e)
	}
	if err != nil {
		return nil, err
	}
	var out []any
	var cur []any
	size := 0
	flush := func() {
		if len(cur) > 0 {
			b := map[string]any{"Items": cur}
			if batchInput != nil {
				b["BatchInput"] = batchInput
			}
			out = append(out, b)
		}
		cur, size = nil, 0
	}
	for _, it := range items {
		n := len(encodeJSON(it))
		if len(cur) > 0 && ((ib.maxItems > 0 && int64(len(cur)) >= ib.maxItems) || (ib.maxBytes > 0 && int64(size+n) > ib.maxBytes)) {
			flush()
		}
		cur = append(cur, it)
		size += n
	}
	flush()
	return out, nil
}

// writeResults writes the run's results as AWS's ResultWriter lays them
// out (<Prefix>/<map run id>/manifest.json, SUCCEEDED_0.json,
// FAILED_0.json) and returns the state's result.
func (r *run) writeResults(ctx context.Context, st *State, env *intrinsicEnv, effective any, mapRunARN string, inputs, outs []any, failed []bool) (any, error) {
	w := st.Writer
	var params any
	var err error
	if w.args != nil {
		params, err = w.args.eval(env.j, "Arguments")
	} else {
		e := *env
		e.input = effective
		params, err = w.params.eval(&e)
	}
	if err != nil {
		return nil, err
	}
	m, _ := params.(map[string]any)
	bucket, _ := m["Bucket"].(string)
	prefix, _ := m["Prefix"].(string)
	if bucket == "" {
		return nil, &Failure{Name: ErrResultWriterFailed, Cause: "The ResultWriter's Parameters need a Bucket"}
	}
	runID := mapRunARN[strings.LastIndexByte(mapRunARN, ':')+1:]
	dir := strings.TrimSuffix(prefix, "/")
	if dir != "" {
		dir += "/"
	}
	dir += runID + "/"
	var ok, bad []any
	label := st.Label
	if label == "" {
		label = st.Name
	}
	children := st.ExecutionType == "STANDARD" && r.mapRuns != nil
	for i := range outs {
		rec := map[string]any{"Input": encodeJSON(inputs[i]), "InputDetails": map[string]any{"Included": true},
			"Name": strconv.Itoa(i), "StateMachineArn": r.x.StateMachineARN, "ExecutionArn": r.x.ARN + "/" + strconv.Itoa(i)}
		if children {
			name := childName(mapRunARN, i)
			machine := r.x.StateMachineARN + "/" + label
			rec["Name"], rec["StateMachineArn"] = name, machine
			rec["ExecutionArn"] = strings.Replace(machine, ":stateMachine:", ":execution:", 1) + ":" + name
		}
		if failed[i] {
			f, _ := outs[i].(map[string]any)
			rec["Status"], rec["Error"], rec["Cause"] = "FAILED", f["Error"], f["Cause"]
			bad = append(bad, rec)
			continue
		}
		rec["Status"], rec["Output"], rec["OutputDetails"] = "SUCCEEDED", encodeJSON(outs[i]), map[string]any{"Included": true}
		ok = append(ok, rec)
	}
	files := map[string]any{"FAILED": []any{}, "PENDING": []any{}, "SUCCEEDED": []any{}}
	for _, f := range []struct {
		status string
		recs   []any
	}{{"SUCCEEDED", ok}, {"FAILED", bad}} {
		if len(f.recs) == 0 {
			continue
		}
		key := dir + f.status + "_0.json"
		body := encodeJSON(f.recs)
		if _, fl := r.callService(ctx, "s3", "PutObject", "S3", map[string]any{"Bucket": bucket, "Key": key, "Body": body}); fl != nil {
			return nil, &Failure{Name: ErrResultWriterFailed, Cause: fmt.Sprintf("Writing s3://%s/%s failed: %s: %s", bucket, key, fl.Name, fl.Cause)}
		}
		files[f.status] = []any{map[string]any{"Key": key, "Size": len(body)}}
	}
	manifest := map[string]any{"DestinationBucket": bucket, "MapRunArn": mapRunARN, "ResultFiles": files}
	key := dir + "manifest.json"
	if _, fl := r.callService(ctx, "s3", "PutObject", "S3", map[string]any{"Bucket": bucket, "Key": key, "Body": encodeJSON(manifest)}); fl != nil {
		return nil, &Failure{Name: ErrResultWriterFailed, Cause: fmt.Sprintf("Writing s3://%s/%s failed: %s: %s", bucket, key, fl.Name, fl.Cause)}
	}
	return map[string]any{"MapRunArn": mapRunARN, "ResultWriterDetails": map[string]any{"Bucket": bucket, "Key": key}}, nil
}

// mapRunARN names a distributed Map's run: arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<id>.
func (r *run) mapRunARN(st *State, b *branch) string {
	label := st.Label
	if label == "" {
		label = st.Name
	}
	arn := strings.Replace(r.x.StateMachineARN, ":stateMachine:", ":mapRun:", 1)
	id, _ := callIntrinsic("States.UUID", nil, &intrinsicEnv{rand: r.rng(b)})
	s, _ := id.(string)
	return arn + "/" + label + ":" + s
}
