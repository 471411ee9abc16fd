package stack

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// genTemplate writes a template of up to six resources; each may refer to
// an earlier one, so updates cascade through references and replacements.
func genTemplate(r *rand.Rand) (string, []string) {
	var b strings.Builder
	b.WriteString("Resources:\n")
	var ids []string
	for i := range 6 {
		if r.IntN(4) == 0 {
			continue
		}
		id := fmt.Sprintf("R%d", i)
		typ := "Test::Thing"
		if r.IntN(5) == 0 {
			typ = "Test::Other"
		}
		fmt.Fprintf(&b, "  %s:\n    Type: %s\n    Properties:\n      Name: n%d\n      Value: v%d\n", id, typ, r.IntN(2), r.IntN(3))
		if len(ids) > 0 && r.IntN(2) == 0 {
			fmt.Fprintf(&b, "      Target: !GetAtt %s.Arn\n", ids[r.IntN(len(ids))])
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		b.WriteString("  R9:\n    Type: Test::Thing\n    Properties:\n      Name: only\n")
		ids = append(ids, "R9")
	}
	return b.String(), ids
}

// snapshot is a stack's recorded resources: logical id -> physical id and
// properties as JSON.
type snapshot map[string]string

func (h *harness) snapshot(name string) snapshot {
	h.t.Helper()
	rec, _, err := h.svc.lookup(h.t.Context(), name)
	if err != nil {
		h.t.Fatal(err)
	}
	out := snapshot{}
	for id, r := range rec.Resources {
		out[id] = r.PhysicalID + " " + fmt.Sprint(r.Properties)
	}
	return out
}

// checkConsistent checks that the fake's live resources are exactly the
// stack's recorded ones, with the recorded properties.
func (h *harness) checkConsistent(step int, name string) {
	h.t.Helper()
	rec, _, err := h.svc.lookup(h.t.Context(), name)
	if err != nil {
		h.t.Fatal(err)
	}
	var recorded []string
	for id, r := range rec.Resources {
		if r.Prev != nil || r.Replaced || r.Created {
			h.t.Fatalf("step %d: %s keeps operation marks after %s: %+v", step, id, rec.Status, r)
		}
		recorded = append(recorded, r.PhysicalID)
		if got := h.prov.props(r.PhysicalID); fmt.Sprint(got) != fmt.Sprint(r.Properties) {
			h.t.Fatalf("step %d: %s (%s) has %v, the stack recorded %v", step, id, r.PhysicalID, got, r.Properties)
		}
	}
	slices.Sort(recorded)
	if live := h.prov.liveIDs(); !slices.Equal(live, recorded) {
		h.t.Fatalf("step %d: live %v, recorded %v", step, live, recorded)
	}
	if len(rec.Cleanup) != 0 || rec.Pending != nil {
		h.t.Fatalf("step %d: cleanup %v, pending %v left after %s", step, rec.Cleanup, rec.Pending != nil, rec.Status)
	}
}

// TestRandomUpdates runs random sequences of updates, some with a
// resource failing, and checks after each that what exists is what the
// stack records, that a successful update made the template's resources,
// and that a rolled-back one left everything as it was.
func TestRandomUpdates(t *testing.T) {
	for seed := range seeds(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 42))
			h := newHarness(t)
			body, _ := genTemplate(r)
			wantStatus(t, h.create("app", body, nil), StatusCreateComplete)
			for step := range 10 {
				before := h.snapshot("app")
				next, ids := genTemplate(r)
				failing := ""
				if r.IntN(3) == 0 {
					failing = ids[r.IntN(len(ids))]
					for _, op := range []string{"create", "update"} {
						h.prov.setFailN(op+":"+failing, "injected failure", 1)
					}
				}
				id, err := h.svc.UpdateStack(t.Context(), UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: next}})
				if err != nil {
					wantAPIError(t, err, CodeValidationError, "No updates are to be performed.")
					h.prov.setFail("create:"+failing, "")
					h.prov.setFail("update:"+failing, "")
					continue
				}
				st := h.wait(id)
				h.prov.setFail("create:"+failing, "")
				h.prov.setFail("update:"+failing, "")
				h.checkConsistent(step, "app")
				after := h.snapshot("app")
				switch st.Status {
				case StatusUpdateComplete:
					if got := slices.Sorted(maps.Keys(after)); !slices.Equal(got, slices.Sorted(slices.Values(ids))) {
						t.Fatalf("step %d: resources %v, template has %v", step, got, ids)
					}
					body = next
				case StatusUpdateRollbackComplete:
					if failing == "" {
						t.Fatalf("step %d: rolled back with no failure: %s", step, st.StatusReason)
					}
					// Physical ids may not change back for replacements
					// (the old resource is the one kept), so compare all.
					if !maps.Equal(before, after) {
						t.Fatalf("step %d: after rollback\n%v\nwant\n%v", step, after, before)
					}
					tmpl, _ := h.svc.Template(t.Context(), "app", "")
					if tmpl != body {
						t.Fatalf("step %d: template changed by a rolled-back update", step)
					}
				default:
					t.Fatalf("step %d: status %s (%s)", step, st.Status, st.StatusReason)
				}
			}
			wantStatus(t, h.del("app"), StatusDeleteComplete)
			if live := h.prov.liveIDs(); len(live) != 0 {
				t.Fatalf("left behind %v", live)
			}
		})
	}
}

// TestRandomRestarts stops the service at a random provider call of a
// random update (sometimes one that fails and rolls back) and starts
// another on the same store: the stack ends updated or rolled back, and
// consistent, whichever phase the stop hit.
func TestRandomRestarts(t *testing.T) {
	for seed := range seeds(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 7))
			h := newHarness(t)
			first, _ := genTemplate(r)
			wantStatus(t, h.create("app", first, nil), StatusCreateComplete)
			for step := range 8 {
				before := h.snapshot("app")
				next, ids := genTemplate(r)
				ops := []string{"create", "update", "delete"}
				key := ops[r.IntN(3)] + ":" + fmt.Sprintf("R%d", r.IntN(6))
				if r.IntN(3) == 0 {
					h.prov.setFailN("create:"+ids[r.IntN(len(ids))], "injected failure", 1)
					// Stop in the rollback: its reverts and its cleanup.
					key = ops[1+r.IntN(2)] + ":" + ids[r.IntN(len(ids))]
				}
				started := h.prov.blockOn(key)
				id, err := h.svc.UpdateStack(t.Context(), UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: next}})
				if err != nil {
					wantAPIError(t, err, CodeValidationError, "No updates are to be performed.")
					h.prov.clearBlocks()
					continue
				}
				hit := false
				waitFor(t, h.svc, id, func(s Stack) bool {
					select {
					case <-started:
						hit = true
						return true
					default:
						return !inProgress(s.Status)
					}
				})
				h.prov.clearBlocks()
				if hit {
					h.stop()
					h.svc, h.stop = startService(t, h.st, h.prov)
				}
				st := h.wait(id)
				if hit {
					t.Logf("step %d: stopped at %s, resumed to %s", step, key, st.Status)
				}
				for _, k := range []string{"create", "update"} {
					for i := range 6 {
						h.prov.setFail(fmt.Sprintf("%s:R%d", k, i), "")
					}
				}
				h.checkConsistent(step, "app")
				after := h.snapshot("app")
				switch st.Status {
				case StatusUpdateComplete:
					if got := slices.Sorted(maps.Keys(after)); !slices.Equal(got, slices.Sorted(slices.Values(ids))) {
						t.Fatalf("step %d (stop at %s: %v): resources %v, template has %v", step, key, hit, got, ids)
					}
				case StatusUpdateRollbackComplete:
					if !maps.Equal(before, after) {
						t.Fatalf("step %d (stop at %s: %v): after rollback\n%v\nwant\n%v", step, key, hit, after, before)
					}
				default:
					t.Fatalf("step %d (stop at %s: %v): status %s (%s)", step, key, hit, st.Status, st.StatusReason)
				}
			}
			wantStatus(t, h.del("app"), StatusDeleteComplete)
			if live := h.prov.liveIDs(); len(live) != 0 {
				t.Fatalf("left behind %v", live)
			}
		})
	}
}

// seeds is how many random sequences to run: n, or 2 with -short.
func seeds(n uint64) uint64 {
	if testing.Short() {
		return 2
	}
	return n
}
