package sfn

import (
	"context"
	"time"
)

// jsonataState does a JSONata state's work. There is no InputPath or
// OutputPath: Arguments build what a Task sends or a Parallel's
// branches start with, Output builds the state's output (by default the
// input, or for a Task, Parallel or Map the result), and Assign sets
// variables; Output and Assign both see the variables as they were when
// the state was entered.
func (r *run) jsonataState(ctx context.Context, b *branch, st *State, rawInput any, env *intrinsicEnv, entered *Event) (any, string, map[string]any, error) {
	je := env.j
	next := st.Next
	if st.End {
		next = ""
	}
	// finish applies Output (default: the input) and Assign.
	finish := func(output *jtmpl, as *assign, next string) (any, string, map[string]any, error) {
		out := rawInput
		if output != nil {
			var err error
			if out, err = output.eval(je, "Output"); err != nil {
				return nil, "", nil, err
			}
		}
		assigned, err := as.eval(nil, nil, je)
		if err != nil {
			return nil, "", nil, err
		}
		return out, next, assigned, nil
	}
	switch st.Type {
	case "Pass":
		return finish(st.Output, st.Assign, next)
	case "Succeed":
		return finish(st.Output, nil, "")
	case "Fail":
		f := &Failure{Name: st.Error, Cause: st.Cause}
		for _, x := range []struct {
			e    *jexpr
			name string
			dst  *string
		}{{st.ErrorExpr, "Error", &f.Name}, {st.CauseExpr, "Cause", &f.Cause}} {
			if x.e == nil {
				continue
			}
			v, err := x.e.eval(je, x.name)
			if err != nil {
				return nil, "", nil, err
			}
			s, ok := v.(string)
			if !ok {
				return nil, "", nil, queryError(x.name, x.e.src, "the value must be a string")
			}
			*x.dst = s
		}
		return nil, "", nil, f
	case "Choice":
		for _, c := range st.Choices {
			if c.Condition == nil {
				continue
			}
			v, err := c.Condition.eval(je, "Condition")
			if err != nil {
				return nil, "", nil, err
			}
			ok, isBool := v.(bool)
			if !isBool {
				return nil, "", nil, queryError("Condition", c.Condition.src, "the condition must evaluate to a boolean, not a %s", jsonType(v))
			}
			if ok {
				return finish(c.Output, c.Assign, c.Next)
			}
		}
		if st.Default == "" {
			return nil, "", nil, &Failure{Name: ErrNoChoiceMatched, Cause: "No Choice Rules matched and no Default was specified."}
		}
		return finish(st.Output, st.Assign, st.Default)
	case "Wait":
		until, err := jsonataWaitUntil(st, entered.Time, je)
		if err != nil {
			return nil, "", nil, err
		}
		if err := r.waitUntil(ctx, until); err != nil {
			return nil, "", nil, err
		}
		return finish(st.Output, st.Assign, next)
	}
	// Task, Parallel, Map.
	out, to, caught, assigned, err := r.withRetry(ctx, b, st, rawInput, rawInput, env, entered)
	if err != nil {
		return nil, "", nil, err
	}
	if caught {
		next = to
	}
	return out, next, assigned, nil
}

// jsonataWaitUntil is when a JSONata Wait state ends: Seconds or
// Timestamp, either of which may be an expression.
func jsonataWaitUntil(st *State, entered time.Time, je *jenv) (time.Time, error) {
	switch {
	case st.SecondsExpr != nil:
		v, err := st.SecondsExpr.eval(je, "Seconds")
		if err != nil {
			return time.Time{}, err
		}
		n, ok := intArg(v)
		if !ok || n < 0 || n > 99999999 {
			return time.Time{}, queryError("Seconds", st.SecondsExpr.src, "the value must be an integer from 0 to 99999999")
		}
		return entered.Add(time.Duration(n) * time.Second), nil
	case st.TimestampExpr != nil:
		v, err := st.TimestampExpr.eval(je, "Timestamp")
		if err != nil {
			return time.Time{}, err
		}
		s, _ := v.(string)
		t, perr := parseTimestamp(s)
		if perr != nil {
			return time.Time{}, queryError("Timestamp", st.TimestampExpr.src, "the value must be an ISO-8601 extended offset date-time string")
		}
		return t, nil
	}
	return waitUntil(st, entered, nil, nil, nil)
}
