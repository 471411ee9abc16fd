package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
)

// inlineMapConcurrency is how many iterations an inline Map runs at once
// when MaxConcurrency is 0 (AWS: up to 40).
const inlineMapConcurrency = 40

// mapState runs the item processor over the items ItemsPath selects.
func (r *run) mapState(ctx context.Context, b *branch, st *State, effective any, env *intrinsicEnv) (any, *Event, error) {
	var itemsV any
	var err error
	if st.Reader != nil {
		itemsV, err = r.readItems(ctx, st, env, effective)
	} else if st.Items != nil {
		itemsV, err = st.Items.eval(env.j, "Items")
	} else {
		itemsV, err = applyOptPath(st.ItemsPath, effective, env.ctx, env.vars, "ItemsPath")
	}
	if err != nil {
		return nil, nil, err
	}
	items, ok := itemsV.([]any)
	if !ok {
		if st.JSONata {
			return nil, nil, &Failure{Name: ErrQueryEvaluationError, Cause: "The Map state's items must be an array; they are a " + jsonType(itemsV) + "."}
		}
		return nil, nil, &Failure{Name: ErrRuntime, Cause: "Map state input must be an array; the ItemsPath selected a " + jsonType(itemsV) + "."}
	}
	if st.Batcher != nil {
		if st.ItemSelector != nil || st.ItemSelectorJ != nil {
			for i := range items {
				if items[i], err = r.selectItem(st, env, effective, items, i, r.rng(b)); err != nil {
					return nil, nil, err
				}
			}
		}
		if items, err = r.batch(st, env, effective, items); err != nil {
			return nil, nil, err
		}
	}
	limit := int(st.MaxConcurrency)
	tolCount, tolPct := st.ToleratedFailureCount, st.ToleratedFailurePct
	for _, f := range []struct {
		e    *jexpr
		name string
		set  func(float64)
		max  float64
	}{{st.MaxConcurrencyExpr, "MaxConcurrency", func(v float64) { limit = int(v) }, 1<<31 - 1},
		{st.TolCountExpr, "ToleratedFailureCount", func(v float64) { tolCount = int64(v) }, 1<<31 - 1},
		{st.TolPctExpr, "ToleratedFailurePercentage", func(v float64) { tolPct = v }, 100}} {
		if f.e == nil {
			continue
		}
		v, err := f.e.eval(env.j, f.name)
		if err != nil {
			return nil, nil, err
		}
		n, ok := v.(json.Number)
		fv, ferr := n.Float64()
		if !ok || ferr != nil || fv < 0 || fv > f.max || (f.name != "ToleratedFailurePercentage" && fv != float64(int64(fv))) {
			return nil, nil, queryError(f.name, f.e.src, "the value must be a non-negative number not above %v", f.max)
		}
		f.set(fv)
	}
	if st.MaxConcurrencyPath != nil {
		v, err := st.MaxConcurrencyPath.eval(effective, env.ctx, env.vars)
		n, ok := intArg(v)
		if err != nil || !ok || n < 0 {
			return nil, nil, &Failure{Name: ErrRuntime, Cause: "MaxConcurrencyPath does not reference a non-negative integer"}
		}
		limit = int(n)
	}
	switch {
	case st.Distributed && (limit == 0 || limit > maxDistributedConcurrency):
		limit = maxDistributedConcurrency
	case !st.Distributed && (limit == 0 || limit > inlineMapConcurrency):
		limit = inlineMapConcurrency
	}
	var runARN string
	if st.Distributed {
		runARN = r.mapRunARN(st, b)
	}
	if _, err := r.j.emit(b, "MapStateStarted", map[string]any{"length": len(items)}); err != nil {
		return nil, nil, err
	}
	outs := make([]any, len(items))
	failedAt := make([]bool, len(items))
	var mu sync.Mutex
	failed := 0
	tolerant := tolCount > 0 || tolPct > 0
	if st.Distributed && st.ExecutionType == "STANDARD" && r.mapRuns != nil {
		err = r.childRuns(ctx, b, st, items, limit, tolCount, tolPct, runARN, outs, failedAt)
	} else {
		express := st.Distributed && r.mapRuns != nil
		if express {
			if err := r.openExpressRun(ctx, b, st, runARN, limit, tolCount, tolPct, len(items)); err != nil {
				return nil, nil, err
			}
		}
		succeeded := 0
		err = r.fanOut(ctx, b, "m", len(items), limit, func(ctx context.Context, cb *branch, i int) error {
			input := items[i]
			if st.Batcher == nil && (st.ItemSelector != nil || st.ItemSelectorJ != nil) {
				var err error
				if input, err = r.selectItem(st, env, effective, items, i, r.rng(cb)); err != nil {
					return err
				}
			}
			if _, err := r.j.emit(cb, "MapIterationStarted", map[string]any{"name": st.Name, "index": i}); err != nil {
				return err
			}
			o, err := r.machine(ctx, cb, st.Processor, input, env.vars.child())
			var f *Failure
			if errors.As(err, &f) {
				if _, eerr := r.j.emit(cb, "MapIterationFailed", map[string]any{"name": st.Name, "index": i}); eerr != nil {
					return eerr
				}
				if tolerant {
					mu.Lock()
					failed++
					n := failed
					mu.Unlock()
					if int64(n) <= tolCount || float64(n)*100 <= tolPct*float64(len(items)) {
						outs[i] = map[string]any{"Error": f.Name, "Cause": f.Cause}
						failedAt[i] = true
						return nil
					}
					return &Failure{Name: ErrExceedToleratedFailure, Cause: "The specified tolerated failure threshold was exceeded"}
				}
				return f
			}
			if err != nil {
				return err
			}
			outs[i] = o
			_, err = r.j.emit(cb, "MapIterationSucceeded", map[string]any{"name": st.Name, "index": i})
			mu.Lock()
			succeeded++
			mu.Unlock()
			return err
		})
		if express {
			if cerr := r.closeExpressRun(ctx, b, runARN, len(items), succeeded, failed, err); cerr != nil {
				return nil, nil, cerr
			}
		}
	}
	var f *Failure
	if errors.As(err, &f) {
		ev, eerr := r.j.emit(b, "MapStateFailed", nil)
		if eerr != nil {
			return nil, nil, eerr
		}
		return nil, ev, f
	}
	if err != nil {
		return nil, nil, err
	}
	if _, err := r.j.emit(b, "MapStateSucceeded", nil); err != nil {
		return nil, nil, err
	}
	if st.Writer != nil {
		res, err := r.writeResults(ctx, st, env, effective, runARN, items, outs, failedAt)
		if err != nil {
			return nil, nil, err
		}
		return res, nil, nil
	}
	return outs, nil, nil
}

// selectItem applies ItemSelector to item i (the context object's
// Map.Item is the item and its index).
func (r *run) selectItem(st *State, env *intrinsicEnv, effective any, items []any, i int, rnd func() uint64) (any, error) {
	ictx := map[string]any{}
	for k, v := range env.ctx.(map[string]any) {
		ictx[k] = v
	}
	ictx["Map"] = map[string]any{"Item": map[string]any{"Index": json.Number(strconv.Itoa(i)), "Value": items[i]}}
	if st.ItemSelectorJ != nil {
		je := *env.j
		je.ctx, je.bound, je.rand = ictx, nil, rnd
		return st.ItemSelectorJ.eval(&je, "ItemSelector")
	}
	return st.ItemSelector.eval(&intrinsicEnv{input: effective, ctx: ictx, rand: rnd, vars: env.vars})
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}
