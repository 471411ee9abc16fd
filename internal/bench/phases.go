package bench

import (
	"math"
	"slices"
	"time"
)

// phases is the breakdown of the cold starts of runtime rt the node
// recorded since it had recorded before, beside the clients' round trips
// (totals) of the same starts, in the same order.
func (r *runner) phases(before int, rt string, totals []time.Duration) *Phases {
	all := r.node.StartPhases()
	if before > len(all) {
		before = 0 // the node's log wrapped
	}
	var (
		admit, code, prep, sb, claim, limits, egress, hs, root, setup, exec, rtInit, inv, rest []time.Duration
		spare                                                                                  int
	)
	for _, ph := range all[before:] {
		if ph.Runtime != rt {
			continue
		}
		s := ph.Sandbox
		admit, code, prep = append(admit, ph.Admit), append(code, ph.Code), append(prep, ph.Prepare)
		sb, claim, limits, hs = append(sb, ph.SandboxTotal), append(claim, s.Claim), append(limits, s.Limits), append(hs, s.Handshake)
		root, setup, exec = append(root, s.Root), append(setup, s.Setup), append(exec, s.Exec)
		egress = append(egress, s.Egress)
		rtInit, inv = append(rtInit, ph.RuntimeInit), append(inv, ph.Invoke)
		if s.Spare {
			spare++
		}
		// The front door's share: the client's round trip less the
		// pool's part of it.
		if i := len(admit) - 1; i < len(totals) {
			rest = append(rest, totals[i]-(ph.Admit+ph.Code+ph.Prepare+ph.SandboxTotal+ph.RuntimeInit+ph.Invoke))
		}
	}
	n := len(admit)
	if n == 0 {
		return nil
	}
	med := func(d []time.Duration) float64 {
		if len(d) == 0 {
			return 0
		}
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds()) / 1000
	}
	p := &Phases{N: n, SpareShare: math.Round(float64(spare)/float64(n)*100) / 100,
		Admit: med(admit), Code: med(code), Prepare: med(prep), Sandbox: med(sb), ClaimSpare: med(claim),
		Limits: med(limits), Egress: med(egress), Handshake: med(hs), MountRoot: med(root), Setup: med(setup), ExecRuntime: med(exec),
		RuntimeInit: med(rtInit), FirstInvoke: med(inv)}
	if len(totals) == n {
		p.FrontDoor = med(rest)
	}
	return p
}
