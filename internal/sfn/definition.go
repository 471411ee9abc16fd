package sfn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// MaxDefinitionBytes is AWS's limit on a definition's size (1 MB).
const MaxDefinitionBytes = 1 << 20

// maxNesting bounds how deep Parallel branches and Map processors nest
// (AWS states no figure; 1 MB of nested Parallels would otherwise recurse
// tens of thousands of levels deep at validation and at run time).
const maxNesting = 32

// maxStates bounds the states of one definition, all levels counted.
const maxStates = 10000

// Definition is a parsed, validated state machine (or a Parallel branch,
// or a Map's item processor).
type Definition struct {
	Comment        string
	StartAt        string
	States         map[string]*State
	TimeoutSeconds int64
}

// State is one state of a definition; which fields mean something
// depends on Type.
type State struct {
	Name, Type string
	Next       string
	End        bool
	// JSONata: the state's QueryLanguage is JSONata (its own, or the
	// machine's); its JSONata fields follow, JSONPath ones are unset.
	JSONata bool

	// Assign (both languages; JSONPath: "key.$" templates).
	Assign *assign
	// JSONata fields.
	Arguments, Output, Items *jtmpl
	ItemSelectorJ            *jtmpl
	// JSONata expressions standing for a number or string field.
	TimeoutExpr, HeartbeatExpr, SecondsExpr, TimestampExpr *jexpr
	MaxConcurrencyExpr, TolCountExpr, TolPctExpr           *jexpr
	ErrorExpr, CauseExpr                                   *jexpr

	InputPath, OutputPath optPath
	ResultPath            optRef
	Parameters            *tmpl
	ResultSelector        *tmpl
	Result                any
	HasResult             bool

	// Task.
	Resource             string
	TimeoutSeconds       int64
	TimeoutSecondsPath   *path
	HeartbeatSeconds     int64
	HeartbeatSecondsPath *path
	Retry                []*Retrier
	Catch                []*Catcher

	// Choice.
	Choices []*ChoiceRule
	Default string

	// Wait.
	Seconds       int64
	HasSeconds    bool
	Timestamp     time.Time
	HasTimestamp  bool
	SecondsPath   *path
	TimestampPath *path

	// Fail.
	Error, Cause         string
	ErrorPath, CausePath *tmpl

	// Parallel.
	Branches []*Definition

	// Map (inline).
	Processor             *Definition
	ItemsPath             optPath
	ItemSelector          *tmpl
	MaxConcurrency        int64
	MaxConcurrencyPath    *path
	ToleratedFailureCount int64
	ToleratedFailurePct   float64
	Distributed           bool
	Reader                *itemReader
	Batcher               *itemBatcher
	Writer                *resultWriter
	Label                 string
	// A distributed Map's ExecutionType, and its ItemProcessor as the
	// definition of its child executions (maprun.go).
	ExecutionType string
	ChildDef      string
}

// Retrier is one entry of a Retry field.
type Retrier struct {
	ErrorEquals     []string
	IntervalSeconds int64
	MaxAttempts     int64
	BackoffRate     float64
	MaxDelaySeconds int64
	JitterFull      bool
}

// Catcher is one entry of a Catch field.
type Catcher struct {
	ErrorEquals []string
	Next        string
	ResultPath  optRef
	Output      *jtmpl // JSONata
	Assign      *assign
}

// optPath is an InputPath/OutputPath/ItemsPath: absent ($), null
// (discard: {}), or a path.
type optPath struct {
	null bool
	p    *path
}

// optRef is a ResultPath: absent ($), null (discard the result), or a
// reference path.
type optRef struct {
	null bool
	p    *refPath
}

// diag is one problem of a definition, in ValidateStateMachineDefinition's
// terms.
type diag struct {
	Code     string
	Message  string
	Location string
}

// DefinitionError is an invalid definition: every problem found.
type DefinitionError struct{ Diags []diag }

// Error renders the problems as CreateStateMachine's InvalidDefinition
// message does:
//
//	Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ... at /States/X/Next, MISSING_TRANSITION_TARGET: ...'
func (e *DefinitionError) Error() string {
	parts := make([]string, len(e.Diags))
	for i, d := range e.Diags {
		parts[i] = d.Code + ": " + d.Message
		if d.Location != "" {
			parts[i] += " at " + d.Location
		}
	}
	return "Invalid State Machine Definition: '" + strings.Join(parts, ", ") + "'"
}

// parser collects the problems of one definition.
type parser struct {
	diags  []diag
	states int
	// express: the machine is EXPRESS (no .sync or .waitForTaskToken).
	express bool
	// jsonata: the machine's QueryLanguage is JSONata.
	jsonata bool
}

func (p *parser) fail(code, loc, format string, args ...any) {
	if len(p.diags) < 100 {
		p.diags = append(p.diags, diag{Code: code, Message: fmt.Sprintf(format, args...), Location: loc})
	}
}

func (p *parser) schema(loc, format string, args ...any) {
	p.fail("SCHEMA_VALIDATION_FAILED", loc, format, args...)
}

// Parse parses and validates a definition (the JSON text of
// CreateStateMachine's definition). express says the machine is EXPRESS.
func Parse(text string, express bool) (*Definition, error) {
	if len(text) > MaxDefinitionBytes {
		return nil, &DefinitionError{[]diag{{Code: "SCHEMA_VALIDATION_FAILED",
			Message: fmt.Sprintf("The definition is %d bytes long, more than the %d bytes allowed", len(text), MaxDefinitionBytes), Location: "/"}}}
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || dec.More() {
		msg := "The definition is not a JSON object"
		if err != nil {
			msg = "Unexpected character or end of input: " + err.Error()
		}
		return nil, &DefinitionError{[]diag{{Code: "INVALID_JSON_DESCRIPTION", Message: msg}}}
	}
	p := &parser{express: express}
	if ql, ok := raw["QueryLanguage"]; ok {
		var s string
		_ = json.Unmarshal(ql, &s)
		switch s {
		case "JSONata":
			p.jsonata = true
		case "JSONPath":
		default:
			p.schema("/QueryLanguage", "The value for the field 'QueryLanguage' must be one of [JSONPath, JSONata]")
		}
	}
	d := p.machine(raw, "", 0, map[string]bool{"Comment": true, "StartAt": true, "States": true, "TimeoutSeconds": true,
		"Version": true, "QueryLanguage": true})
	if len(p.diags) > 0 {
		return nil, &DefinitionError{p.diags}
	}
	return d, nil
}

// machine parses a StartAt/States object at loc (a branch or processor
// nests its own).
func (p *parser) machine(raw map[string]json.RawMessage, loc string, depth int, allowed map[string]bool) *Definition {
	at := loc
	if at == "" {
		at = "/"
	}
	if depth > maxNesting {
		p.schema(at, "Parallel and Map states may nest at most %d levels deep", maxNesting)
		return nil
	}
	for _, k := range sortedKeys(raw) {
		if !allowed[k] {
			p.schema(at, "Field '%s' is not supported", k)
		}
	}
	d := &Definition{States: map[string]*State{}}
	var missing []string
	if _, ok := raw["StartAt"]; !ok {
		missing = append(missing, "StartAt")
	}
	if _, ok := raw["States"]; !ok {
		missing = append(missing, "States")
	}
	if len(missing) > 0 {
		p.schema(at, "These fields are required: [%s]", strings.Join(missing, ", "))
		return nil
	}
	if !p.str(raw["StartAt"], loc+"/StartAt", "StartAt", &d.StartAt) {
		return nil
	}
	if c, ok := raw["Comment"]; ok {
		p.str(c, loc+"/Comment", "Comment", &d.Comment)
	}
	if t, ok := raw["TimeoutSeconds"]; ok {
		p.posInt(t, loc+"/TimeoutSeconds", "TimeoutSeconds", &d.TimeoutSeconds, 1, 99999999)
	}
	var states map[string]json.RawMessage
	if err := json.Unmarshal(raw["States"], &states); err != nil {
		p.schema(loc+"/States", "The field 'States' must be an object")
		return nil
	}
	if len(states) == 0 {
		p.schema(loc+"/States", "The field 'States' must have at least one state")
		return nil
	}
	for _, name := range sortedKeys(states) {
		p.states++
		if p.states > maxStates {
			p.schema(loc+"/States", "A definition may have at most %d states", maxStates)
			return nil
		}
		sloc := loc + "/States/" + name
		if name == "" || len([]rune(name)) > 80 {
			p.schema(sloc, "A state's name must be 1 to 80 characters long")
		}
		if s := p.state(name, states[name], sloc, depth); s != nil {
			d.States[name] = s
		}
	}
	if len(p.diags) > 0 {
		return d
	}
	if _, ok := d.States[d.StartAt]; !ok {
		p.fail("MISSING_TRANSITION_TARGET", loc+"/StartAt", "Missing 'StartAt' target: %s", d.StartAt)
	}
	p.checkTransitions(d, loc)
	return d
}

// checkTransitions finds targets that do not exist, states no path
// reaches, and a machine with no way to end.
func (p *parser) checkTransitions(d *Definition, loc string) {
	reached := map[string]bool{}
	terminal := false
	var visit func(string)
	visit = func(n string) {
		if reached[n] {
			return
		}
		s, ok := d.States[n]
		if !ok {
			return
		}
		reached[n] = true
		if s.End || s.Type == "Succeed" || s.Type == "Fail" {
			terminal = true
		}
		for _, t := range s.targets() {
			visit(t.name)
		}
	}
	for _, name := range sortedKeys(d.States) {
		for _, t := range d.States[name].targets() {
			if _, ok := d.States[t.name]; !ok {
				p.fail("MISSING_TRANSITION_TARGET", loc+"/States/"+name+"/"+t.field, "Missing '%s' target: %s", t.kind, t.name)
			}
		}
	}
	visit(d.StartAt)
	for _, name := range sortedKeys(d.States) {
		if !reached[name] {
			p.fail("MISSING_TRANSITION_TARGET", loc+"/States/"+name, "State \"%s\" is not reachable.", name)
		}
	}
	if !terminal && len(p.diags) == 0 {
		p.fail("MISSING_TERMINAL_STATE", loc, "No terminal state: the machine can never end")
	}
}

type target struct{ name, field, kind string }

func (s *State) targets() []target {
	var ts []target
	if s.Next != "" {
		ts = append(ts, target{s.Next, "Next", "Next"})
	}
	for i, c := range s.Catch {
		ts = append(ts, target{c.Next, fmt.Sprintf("Catch[%d]/Next", i), "Next"})
	}
	for i, c := range s.Choices {
		ts = append(ts, target{c.Next, fmt.Sprintf("Choices[%d]/Next", i), "Next"})
	}
	if s.Default != "" {
		ts = append(ts, target{s.Default, "Default", "Default"})
	}
	return ts
}

// jsonPathOnly are the fields a JSONata state does not accept.
var jsonPathOnly = map[string]bool{"InputPath": true, "OutputPath": true, "ResultPath": true, "Parameters": true,
	"ResultSelector": true, "Result": true, "ItemsPath": true, "SecondsPath": true, "TimestampPath": true,
	"TimeoutSecondsPath": true, "HeartbeatSecondsPath": true, "ErrorPath": true, "CausePath": true,
	"MaxConcurrencyPath": true, "ToleratedFailureCountPath": true, "ToleratedFailurePercentagePath": true}

// jsonataOnly are the fields only a JSONata state accepts.
var jsonataOnly = map[string]bool{"Arguments": true, "Output": true, "Items": true}

// jsonataFields are the JSONata-only fields of each state type.
var jsonataFields = map[string][]string{
	"Pass": {"Output"}, "Task": {"Arguments", "Output"}, "Choice": {"Output"}, "Wait": {"Output"},
	"Succeed": {"Output"}, "Parallel": {"Arguments", "Output"}, "Map": {"Items", "Output"},
}

// assignFields: the state types that may assign variables.
var assignFields = map[string][]string{
	"Pass": {"Assign"}, "Task": {"Assign"}, "Choice": {"Assign"}, "Wait": {"Assign"}, "Parallel": {"Assign"}, "Map": {"Assign"},
}

// The fields each state type accepts (beyond Type and Comment).
var stateFields = map[string][]string{
	"Pass":     {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result"},
	"Task":     {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Resource", "Retry", "Catch", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials"},
	"Choice":   {"InputPath", "OutputPath", "Choices", "Default"},
	"Wait":     {"Next", "End", "InputPath", "OutputPath", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"},
	"Succeed":  {"InputPath", "OutputPath"},
	"Fail":     {"Error", "ErrorPath", "Cause", "CausePath"},
	"Parallel": {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Branches", "Retry", "Catch"},
	"Map":      {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ItemSelector", "ResultSelector", "ItemsPath", "MaxConcurrency", "MaxConcurrencyPath", "Iterator", "ItemProcessor", "Retry", "Catch", "ToleratedFailureCount", "ToleratedFailurePercentage", "ItemReader", "ItemBatcher", "ResultWriter", "Label", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath"},
}

func (p *parser) state(name string, b json.RawMessage, loc string, depth int) *State {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		p.schema(loc, "A state must be an object")
		return nil
	}
	s := &State{Name: name}
	tb, ok := raw["Type"]
	if !ok {
		p.schema(loc, "These fields are required: [Type]")
		return nil
	}
	if !p.str(tb, loc+"/Type", "Type", &s.Type) {
		return nil
	}
	fields, ok := stateFields[s.Type]
	if !ok {
		p.schema(loc+"/Type", "The value for the field 'Type' must be one of [Choice, Fail, Map, Parallel, Pass, Succeed, Task, Wait]")
		return nil
	}
	s.JSONata = p.jsonata
	if v, ok := raw["QueryLanguage"]; ok {
		var ql string
		_ = json.Unmarshal(v, &ql)
		switch {
		case ql == "JSONata":
			s.JSONata = true
		case ql == "JSONPath" && p.jsonata:
			p.schema(loc+"/QueryLanguage", "A state cannot use JSONPath when the state machine's QueryLanguage is JSONata")
		case ql != "JSONPath":
			p.schema(loc+"/QueryLanguage", "The value for the field 'QueryLanguage' must be one of [JSONPath, JSONata]")
		}
	}
	allowed := map[string]bool{"Type": true, "Comment": true, "QueryLanguage": true}
	for _, f := range fields {
		allowed[f] = !s.JSONata || !jsonPathOnly[f]
	}
	for _, f := range assignFields[s.Type] {
		allowed[f] = true
	}
	if s.JSONata {
		for _, f := range jsonataFields[s.Type] {
			allowed[f] = true
		}
	}
	for _, k := range sortedKeys(raw) {
		switch {
		case allowed[k]:
		case s.JSONata && jsonPathOnly[k]:
			p.schema(loc, "Field '%s' is not supported when QueryLanguage is JSONata", k)
		case !s.JSONata && jsonataOnly[k]:
			p.schema(loc, "Field '%s' is only supported when QueryLanguage is JSONata", k)
		default:
			p.schema(loc, "Field '%s' is not supported", k)
		}
	}
	if s.JSONata {
		// Number and string fields may be expressions instead.
		for _, f := range []struct {
			name string
			dst  **jexpr
		}{{"TimeoutSeconds", &s.TimeoutExpr}, {"HeartbeatSeconds", &s.HeartbeatExpr}, {"Seconds", &s.SecondsExpr},
			{"Timestamp", &s.TimestampExpr}, {"MaxConcurrency", &s.MaxConcurrencyExpr}, {"ToleratedFailureCount", &s.TolCountExpr},
			{"ToleratedFailurePercentage", &s.TolPctExpr}, {"Error", &s.ErrorExpr}, {"Cause", &s.CauseExpr}} {
			var str string
			if v, ok := raw[f.name]; ok && allowed[f.name] && json.Unmarshal(v, &str) == nil && isJSONataString(str) {
				*f.dst = p.jexpr(str, loc+"/"+f.name, f.name)
				delete(raw, f.name)
			}
		}
		for _, f := range []struct {
			name string
			dst  **jtmpl
		}{{"Arguments", &s.Arguments}, {"Output", &s.Output}, {"Items", &s.Items}} {
			if v, ok := raw[f.name]; ok && allowed[f.name] {
				*f.dst = p.jsonataTmpl(v, loc+"/"+f.name, f.name)
			}
		}
		if v, ok := raw["ItemSelector"]; ok {
			s.ItemSelectorJ = p.jsonataTmpl(v, loc+"/ItemSelector", "ItemSelector")
			delete(raw, "ItemSelector")
		}
	}
	if v, ok := raw["Assign"]; ok && allowed["Assign"] {
		s.Assign = p.assign(v, loc+"/Assign", s.JSONata)
	}
	// Transitions.
	if s.Type != "Choice" && s.Type != "Succeed" && s.Type != "Fail" {
		_, hasNext := raw["Next"]
		_, hasEnd := raw["End"]
		if hasNext {
			p.str(raw["Next"], loc+"/Next", "Next", &s.Next)
		}
		if hasEnd {
			if err := json.Unmarshal(raw["End"], &s.End); err != nil {
				p.schema(loc+"/End", "The value for the field 'End' must be a boolean")
			}
		}
		switch {
		case hasNext && hasEnd && s.End:
			p.schema(loc, "Only one of 'Next' or 'End' may be given")
		case !hasNext && !s.End:
			p.schema(loc, "These fields are required: [Next or End]")
		}
	}
	if v, ok := raw["InputPath"]; ok {
		s.InputPath = p.optPath(v, loc+"/InputPath", "InputPath")
	}
	if v, ok := raw["OutputPath"]; ok {
		s.OutputPath = p.optPath(v, loc+"/OutputPath", "OutputPath")
	}
	if v, ok := raw["ResultPath"]; ok {
		s.ResultPath = p.optRef(v, loc+"/ResultPath")
	}
	if v, ok := raw["Parameters"]; ok {
		s.Parameters = p.template(v, loc+"/Parameters", "Parameters")
	}
	if v, ok := raw["ResultSelector"]; ok {
		s.ResultSelector = p.template(v, loc+"/ResultSelector", "ResultSelector")
	}
	if v, ok := raw["Result"]; ok {
		val, err := decodeJSON(v)
		if err != nil {
			p.schema(loc+"/Result", "The field 'Result' must be JSON")
		}
		s.Result, s.HasResult = val, true
	}
	switch s.Type {
	case "Task":
		p.task(s, raw, loc)
	case "Choice":
		p.choice(s, raw, loc)
	case "Wait":
		p.wait(s, raw, loc)
	case "Fail":
		p.failState(s, raw, loc)
	case "Parallel":
		p.parallel(s, raw, loc, depth)
	case "Map":
		p.mapState(s, raw, loc, depth)
	}
	if v, ok := raw["Retry"]; ok {
		s.Retry = p.retry(v, loc+"/Retry")
	}
	if v, ok := raw["Catch"]; ok {
		s.Catch = p.catch(v, loc+"/Catch", s.JSONata)
	}
	return s
}

func (p *parser) task(s *State, raw map[string]json.RawMessage, loc string) {
	r, ok := raw["Resource"]
	if !ok {
		p.schema(loc, "These fields are required: [Resource]")
		return
	}
	if !p.str(r, loc+"/Resource", "Resource", &s.Resource) {
		return
	}
	if !strings.HasPrefix(s.Resource, "arn:") {
		p.schema(loc+"/Resource", "Value is not a valid resource ARN")
	} else if _, err := classify(s.Resource); err != nil {
		p.schema(loc+"/Resource", "%s", err.Error())
	} else if p.express && (strings.HasSuffix(s.Resource, ".sync") || strings.Contains(s.Resource, ".sync:") ||
		strings.HasSuffix(s.Resource, ".waitForTaskToken")) {
		p.schema(loc+"/Resource", "Express state machine does not support '.sync' or '.waitForTaskToken' service integration patterns")
	}
	if v, ok := raw["TimeoutSeconds"]; ok {
		p.posInt(v, loc+"/TimeoutSeconds", "TimeoutSeconds", &s.TimeoutSeconds, 1, 99999999)
	}
	if v, ok := raw["HeartbeatSeconds"]; ok {
		p.posInt(v, loc+"/HeartbeatSeconds", "HeartbeatSeconds", &s.HeartbeatSeconds, 1, 99999999)
	}
	if v, ok := raw["TimeoutSecondsPath"]; ok {
		s.TimeoutSecondsPath = p.pathField(v, loc+"/TimeoutSecondsPath", "TimeoutSecondsPath")
	}
	if v, ok := raw["HeartbeatSecondsPath"]; ok {
		s.HeartbeatSecondsPath = p.pathField(v, loc+"/HeartbeatSecondsPath", "HeartbeatSecondsPath")
	}
	if s.TimeoutSeconds > 0 && s.TimeoutSecondsPath != nil {
		p.schema(loc, "Only one of 'TimeoutSeconds' or 'TimeoutSecondsPath' may be given")
	}
	if s.HeartbeatSeconds > 0 && s.HeartbeatSecondsPath != nil {
		p.schema(loc, "Only one of 'HeartbeatSeconds' or 'HeartbeatSecondsPath' may be given")
	}
	if s.HeartbeatSeconds > 0 && s.TimeoutSeconds > 0 && s.HeartbeatSeconds >= s.TimeoutSeconds {
		p.schema(loc+"/HeartbeatSeconds", "The value of 'HeartbeatSeconds' must be less than the value of 'TimeoutSeconds'")
	}
}

func (p *parser) wait(s *State, raw map[string]json.RawMessage, loc string) {
	n := 0
	if s.SecondsExpr != nil {
		n++
	}
	if s.TimestampExpr != nil {
		n++
	}
	if v, ok := raw["Seconds"]; ok {
		n++
		s.HasSeconds = p.posInt(v, loc+"/Seconds", "Seconds", &s.Seconds, 0, 99999999)
	}
	if v, ok := raw["Timestamp"]; ok {
		n++
		var ts string
		if p.str(v, loc+"/Timestamp", "Timestamp", &ts) {
			t, err := parseTimestamp(ts)
			if err != nil {
				p.schema(loc+"/Timestamp", "The value for the field 'Timestamp' must be a valid ISO-8601 timestamp")
			}
			s.Timestamp, s.HasTimestamp = t, true
		}
	}
	if v, ok := raw["SecondsPath"]; ok {
		n++
		s.SecondsPath = p.pathField(v, loc+"/SecondsPath", "SecondsPath")
	}
	if v, ok := raw["TimestampPath"]; ok {
		n++
		s.TimestampPath = p.pathField(v, loc+"/TimestampPath", "TimestampPath")
	}
	if n != 1 {
		p.schema(loc, "A Wait state must have exactly one of 'Seconds', 'Timestamp', 'SecondsPath' or 'TimestampPath'")
	}
}

func (p *parser) failState(s *State, raw map[string]json.RawMessage, loc string) {
	if v, ok := raw["Error"]; ok {
		p.str(v, loc+"/Error", "Error", &s.Error)
	}
	if v, ok := raw["Cause"]; ok {
		p.str(v, loc+"/Cause", "Cause", &s.Cause)
	}
	for _, f := range []struct {
		name string
		dst  **tmpl
		has  string
	}{{"ErrorPath", &s.ErrorPath, "Error"}, {"CausePath", &s.CausePath, "Cause"}} {
		v, ok := raw[f.name]
		if !ok {
			continue
		}
		if _, both := raw[f.has]; both {
			p.schema(loc, "Only one of '%s' or '%s' may be given", f.has, f.name)
		}
		var src string
		if !p.str(v, loc+"/"+f.name, f.name, &src) {
			continue
		}
		*f.dst = p.dynamic(src, loc+"/"+f.name, f.name)
	}
}

func (p *parser) parallel(s *State, raw map[string]json.RawMessage, loc string, depth int) {
	v, ok := raw["Branches"]
	if !ok {
		p.schema(loc, "These fields are required: [Branches]")
		return
	}
	var branches []map[string]json.RawMessage
	if err := json.Unmarshal(v, &branches); err != nil || len(branches) == 0 {
		p.schema(loc+"/Branches", "The field 'Branches' must be a non-empty array of objects")
		return
	}
	for i, b := range branches {
		d := p.machine(b, fmt.Sprintf("%s/Branches[%d]", loc, i), depth+1, map[string]bool{"Comment": true, "StartAt": true, "States": true})
		s.Branches = append(s.Branches, d)
	}
}

func (p *parser) mapState(s *State, raw map[string]json.RawMessage, loc string, depth int) {
	var procRaw map[string]json.RawMessage
	field := "ItemProcessor"
	if v, ok := raw["ItemProcessor"]; ok {
		if err := json.Unmarshal(v, &procRaw); err != nil {
			p.schema(loc+"/ItemProcessor", "The field 'ItemProcessor' must be an object")
			return
		}
	} else if v, ok := raw["Iterator"]; ok {
		field = "Iterator"
		if err := json.Unmarshal(v, &procRaw); err != nil {
			p.schema(loc+"/Iterator", "The field 'Iterator' must be an object")
			return
		}
	} else {
		p.schema(loc, "These fields are required: [ItemProcessor]")
		return
	}
	if pc, ok := procRaw["ProcessorConfig"]; ok {
		var cfg struct{ Mode, ExecutionType string }
		if err := json.Unmarshal(pc, &cfg); err != nil {
			p.schema(loc+"/"+field+"/ProcessorConfig", "The field 'ProcessorConfig' must be an object")
		}
		switch cfg.Mode {
		case "", "INLINE":
		case "DISTRIBUTED":
			s.Distributed = true
			s.ExecutionType = cfg.ExecutionType
			s.ChildDef = childDefinition(procRaw, s.JSONata)
			switch cfg.ExecutionType {
			case "STANDARD", "EXPRESS":
			default:
				p.schema(loc+"/"+field+"/ProcessorConfig/ExecutionType", "The value for the field 'ExecutionType' must be one of [STANDARD, EXPRESS]")
			}
		default:
			p.schema(loc+"/"+field+"/ProcessorConfig/Mode", "The value for the field 'Mode' must be one of [INLINE, DISTRIBUTED]")
		}
	}
	p.distributed(s, raw, loc)
	s.Processor = p.machine(procRaw, loc+"/"+field, depth+1,
		map[string]bool{"Comment": true, "StartAt": true, "States": true, "ProcessorConfig": true})
	if v, ok := raw["ItemsPath"]; ok {
		s.ItemsPath = p.optPath(v, loc+"/ItemsPath", "ItemsPath")
	}
	if v, ok := raw["ItemSelector"]; ok {
		s.ItemSelector = p.template(v, loc+"/ItemSelector", "ItemSelector")
	}
	if s.ItemSelector != nil && s.Parameters != nil {
		p.schema(loc, "Only one of 'ItemSelector' or 'Parameters' may be given")
	}
	if s.Parameters != nil {
		// Parameters on a Map is ItemSelector's older name.
		s.ItemSelector, s.Parameters = s.Parameters, nil
	}
	if v, ok := raw["MaxConcurrency"]; ok {
		p.posInt(v, loc+"/MaxConcurrency", "MaxConcurrency", &s.MaxConcurrency, 0, 1<<31-1)
	}
	if v, ok := raw["MaxConcurrencyPath"]; ok {
		s.MaxConcurrencyPath = p.pathField(v, loc+"/MaxConcurrencyPath", "MaxConcurrencyPath")
	}
	if v, ok := raw["ToleratedFailureCount"]; ok {
		p.posInt(v, loc+"/ToleratedFailureCount", "ToleratedFailureCount", &s.ToleratedFailureCount, 0, 1<<31-1)
	}
	if v, ok := raw["ToleratedFailurePercentage"]; ok {
		if err := json.Unmarshal(v, &s.ToleratedFailurePct); err != nil || s.ToleratedFailurePct < 0 || s.ToleratedFailurePct > 100 {
			p.schema(loc+"/ToleratedFailurePercentage", "The value for the field 'ToleratedFailurePercentage' must be a number from 0 to 100")
		}
	}
	for _, f := range []string{"ToleratedFailureCountPath", "ToleratedFailurePercentagePath"} {
		if _, ok := raw[f]; ok {
			p.schema(loc+"/"+f, "Nimbus does not support '%s' yet", f)
		}
	}
}

func (p *parser) retry(b json.RawMessage, loc string) []*Retrier {
	var raws []map[string]json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		p.schema(loc, "The field 'Retry' must be an array of objects")
		return nil
	}
	var out []*Retrier
	for i, raw := range raws {
		l := fmt.Sprintf("%s[%d]", loc, i)
		r := &Retrier{IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2}
		for _, k := range sortedKeys(raw) {
			switch k {
			case "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment":
			default:
				p.schema(l, "Field '%s' is not supported", k)
			}
		}
		r.ErrorEquals = p.errorEquals(raw, l, i == len(raws)-1)
		if v, ok := raw["IntervalSeconds"]; ok {
			p.posInt(v, l+"/IntervalSeconds", "IntervalSeconds", &r.IntervalSeconds, 1, 99999999)
		}
		if v, ok := raw["MaxAttempts"]; ok {
			p.posInt(v, l+"/MaxAttempts", "MaxAttempts", &r.MaxAttempts, 0, 99999999)
		}
		if v, ok := raw["MaxDelaySeconds"]; ok {
			p.posInt(v, l+"/MaxDelaySeconds", "MaxDelaySeconds", &r.MaxDelaySeconds, 1, 31622400)
		}
		if v, ok := raw["BackoffRate"]; ok {
			if err := json.Unmarshal(v, &r.BackoffRate); err != nil || r.BackoffRate < 1 {
				p.schema(l+"/BackoffRate", "The value for the field 'BackoffRate' must be a number of at least 1.0")
			}
		}
		if v, ok := raw["JitterStrategy"]; ok {
			var j string
			_ = json.Unmarshal(v, &j)
			switch j {
			case "FULL":
				r.JitterFull = true
			case "NONE":
			default:
				p.schema(l+"/JitterStrategy", "The value for the field 'JitterStrategy' must be one of [FULL, NONE]")
			}
		}
		out = append(out, r)
	}
	return out
}

func (p *parser) catch(b json.RawMessage, loc string, jsonataState bool) []*Catcher {
	var raws []map[string]json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		p.schema(loc, "The field 'Catch' must be an array of objects")
		return nil
	}
	var out []*Catcher
	for i, raw := range raws {
		l := fmt.Sprintf("%s[%d]", loc, i)
		c := &Catcher{}
		for _, k := range sortedKeys(raw) {
			switch k {
			case "ErrorEquals", "Next", "Comment", "Assign":
			case "ResultPath":
				if jsonataState {
					p.schema(l, "Field 'ResultPath' is not supported when QueryLanguage is JSONata")
				}
			case "Output":
				if !jsonataState {
					p.schema(l, "Field 'Output' is only supported when QueryLanguage is JSONata")
				}
			default:
				p.schema(l, "Field '%s' is not supported", k)
			}
		}
		c.ErrorEquals = p.errorEquals(raw, l, i == len(raws)-1)
		if v, ok := raw["Next"]; ok {
			p.str(v, l+"/Next", "Next", &c.Next)
		} else {
			p.schema(l, "These fields are required: [Next]")
		}
		if v, ok := raw["ResultPath"]; ok && !jsonataState {
			c.ResultPath = p.optRef(v, l+"/ResultPath")
		}
		if v, ok := raw["Output"]; ok && jsonataState {
			c.Output = p.jsonataTmpl(v, l+"/Output", "Output")
		}
		if v, ok := raw["Assign"]; ok {
			c.Assign = p.assign(v, l+"/Assign", jsonataState)
		}
		out = append(out, c)
	}
	return out
}

func (p *parser) errorEquals(raw map[string]json.RawMessage, loc string, last bool) []string {
	v, ok := raw["ErrorEquals"]
	if !ok {
		p.schema(loc, "These fields are required: [ErrorEquals]")
		return nil
	}
	var names []string
	if err := json.Unmarshal(v, &names); err != nil || len(names) == 0 {
		p.schema(loc+"/ErrorEquals", "The field 'ErrorEquals' must be a non-empty array of strings")
		return nil
	}
	for _, n := range names {
		if n == ErrAll && (len(names) > 1 || !last) {
			p.schema(loc+"/ErrorEquals", "States.ALL must appear alone in the last Retrier or Catcher")
		}
	}
	return names
}

func (p *parser) str(b json.RawMessage, loc, field string, dst *string) bool {
	if err := json.Unmarshal(b, dst); err != nil {
		p.schema(loc, "The value for the field '%s' must be a STRING", field)
		return false
	}
	return true
}

func (p *parser) posInt(b json.RawMessage, loc, field string, dst *int64, lo, hi int64) bool {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		p.schema(loc, "The value for the field '%s' must be an INTEGER", field)
		return false
	}
	v, err := n.Int64()
	if err != nil || v < lo || v > hi {
		p.schema(loc, "The value for the field '%s' must be an integer from %d to %d", field, lo, hi)
		return false
	}
	*dst = v
	return true
}

func (p *parser) pathField(b json.RawMessage, loc, field string) *path {
	var s string
	if !p.str(b, loc, field, &s) {
		return nil
	}
	pp, err := compilePath(s)
	if err != nil {
		p.schema(loc, "The value for the field '%s' must be a valid JSONPath", field)
		return nil
	}
	return pp
}

func (p *parser) optPath(b json.RawMessage, loc, field string) optPath {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return optPath{null: true}
	}
	return optPath{p: p.pathField(b, loc, field)}
}

func (p *parser) optRef(b json.RawMessage, loc string) optRef {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return optRef{null: true}
	}
	var s string
	if !p.str(b, loc, "ResultPath", &s) {
		return optRef{}
	}
	rp, err := parseRefPath(s)
	if err != nil {
		p.schema(loc, "The value for the field 'ResultPath' must be a valid JSONPath")
		return optRef{}
	}
	return optRef{p: rp}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// parseTimestamp parses an ASL timestamp (RFC 3339, uppercase T and Z).
func parseTimestamp(s string) (time.Time, error) {
	if strings.ContainsAny(s, "tz") {
		return time.Time{}, fmt.Errorf("timestamp %q: T and Z must be uppercase", s)
	}
	return time.Parse(time.RFC3339Nano, s)
}
