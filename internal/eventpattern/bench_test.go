//go:build unix

package eventpattern

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The benchmark follows event-ruler's: GeoJSON features shaped like its
// citylots data set (~900 bytes each, a properties object and a polygon's
// coordinates), 100 rules of one kind per run, matched by a Set against one
// parse of each event. Beside it, in the same run, the naive evaluator
// (encoding/json decoding plus the interpretation in naive_test.go) handles
// the same events; the result is reported as events/s for both and their
// ratio. Run:
//
//	go test -run '^$' -bench BenchmarkMatch -benchtime 2s ./internal/eventpattern/

var streets = func() []string {
	first := []string{"MISSION", "MARKET", "VALENCIA", "GUERRERO", "DOLORES", "CHURCH", "SANCHEZ", "NOE", "CASTRO",
		"DIAMOND", "HOWARD", "FOLSOM", "HARRISON", "BRYANT", "BRANNAN", "TOWNSEND", "KING", "BERRY", "CHANNEL", "MARIPOSA"}
	kinds := []string{"", " NORTH", " SOUTH", " EAST", " WEST", " UPPER", " LOWER", " OLD", " NEW", " CENTRAL"}
	var out []string
	for _, k := range kinds {
		for _, f := range first {
			out = append(out, f+k)
		}
	}
	return out // 200 names
}()

func cityEvents(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for i := range out {
		var b strings.Builder
		lot := r.IntN(10000)
		fmt.Fprintf(&b, `{"type":"Feature","properties":{"MAPBLKLOT":"%04d%03d","BLKLOT":"%04d%03d","BLOCK_NUM":"%04d","LOT_NUM":"%03d",`,
			lot, i%1000, lot, i%1000, lot, i%1000)
		fmt.Fprintf(&b, `"FROM_ST":%d,"TO_ST":%d,"STREET":%q,"ST_TYPE":%s,"ODD_EVEN":"%s","AREA":%.3f,"SOURCE_IP":"10.%d.%d.%d"},`,
			r.IntN(4000), r.IntN(4000), streets[r.IntN(len(streets))], []string{"null", `"ST"`, `"AVE"`}[r.IntN(3)],
			[]string{"E", "O"}[r.IntN(2)], r.Float64()*5000, r.IntN(256), r.IntN(256), r.IntN(256))
		b.WriteString(`"geometry":{"type":"Polygon","coordinates":[[`)
		for j := 0; j < 18; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "[%.15f,%.15f,0.0]", -122.5+r.Float64()*0.2, 37.7+r.Float64()*0.1)
		}
		b.WriteString(`]]}}`)
		out[i] = []byte(b.String())
	}
	return out
}

type benchKind struct {
	name  string
	rules func(i int) string
}

var benchKinds = []benchKind{
	{"exact", func(i int) string { return fmt.Sprintf(`{"properties":{"STREET":[%q]}}`, streets[i]) }},
	{"prefix", func(i int) string { return fmt.Sprintf(`{"properties":{"MAPBLKLOT":[{"prefix":"%02d"}]}}`, i) }},
	{"suffix", func(i int) string { return fmt.Sprintf(`{"properties":{"MAPBLKLOT":[{"suffix":"%02d"}]}}`, i) }},
	{"equals-ignore-case", func(i int) string {
		return fmt.Sprintf(`{"properties":{"STREET":[{"equals-ignore-case":%q}]}}`, strings.ToLower(streets[i]))
	}},
	{"anything-but", func(i int) string {
		return fmt.Sprintf(`{"properties":{"STREET":[{"anything-but":[%q,%q]}],"ODD_EVEN":[{"anything-but":"E"}]}}`, streets[i], streets[i+100])
	}},
	{"numeric", func(i int) string {
		return fmt.Sprintf(`{"properties":{"AREA":[{"numeric":[">",%d,"<=",%d]}],"FROM_ST":[{"numeric":["<",%d]}]}}`, i*50, i*50+50, 2000+i)
	}},
	{"exists", func(i int) string {
		return fmt.Sprintf(`{"properties":{"STREET":[{"exists":true}],"X_%d":[{"exists":false}],"ST_TYPE":[{"exists":true}]}}`, i)
	}},
	{"wildcard", func(i int) string {
		s := streets[i]
		return fmt.Sprintf(`{"properties":{"STREET":[{"wildcard":"%s*%s"}]}}`, s[:2], s[len(s)-2:])
	}},
	{"cidr", func(i int) string { return fmt.Sprintf(`{"properties":{"SOURCE_IP":[{"cidr":"10.%d.0.0/16"}]}}`, i) }},
}

func BenchmarkMatch(b *testing.B) {
	events := cityEvents(1000)
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) {
			var ps []*Pattern
			var naive []map[string]any
			for i := 0; i < 100; i++ {
				src := k.rules(i)
				ps = append(ps, MustCompile(EventBridge, src))
				v, err := decodeAny([]byte(src))
				if err != nil {
					b.Fatal(err)
				}
				naive = append(naive, v.(map[string]any))
			}
			set := NewSet(ps...)
			dst := make([]int, 0, len(ps))
			n, matched := 0, 0
			runtime.GC() // the previous run's garbage is not collected on this run's CPU time
			cpu0 := cpuTime(b)
			for b.Loop() {
				var err error
				dst, err = set.Match(events[n%len(events)], dst[:0])
				if err != nil {
					b.Fatal(err)
				}
				matched += len(dst)
				n++
			}
			compiled := float64(n) / b.Elapsed().Seconds()
			compiledCPU := float64(n) / (cpuTime(b) - cpu0).Seconds()

			// The naive evaluator over the same events, checked against the
			// compiled matcher as it goes.
			m := min(n, 2000)
			start, ncpu0 := time.Now(), cpuTime(b)
			for j := 0; j < m; j++ {
				ev, err := decodeAny(events[j%len(events)])
				if err != nil {
					b.Fatal(err)
				}
				count := 0
				for _, p := range naive {
					if naiveObj(p, ev) {
						count++
					}
				}
				if j < 50 {
					got, _ := set.Match(events[j%len(events)], nil)
					if len(got) != count {
						b.Fatalf("event %d: compiled matched %d rules, naive %d", j, len(got), count)
					}
				}
			}
			naiveRate := float64(m) / time.Since(start).Seconds()
			naiveCPU := float64(m) / (cpuTime(b) - ncpu0).Seconds()
			b.ReportMetric(compiled, "events/s")
			b.ReportMetric(compiledCPU, "events/cpu-s")
			b.ReportMetric(naiveRate, "naive-events/s")
			b.ReportMetric(naiveCPU, "naive-events/cpu-s")
			b.ReportMetric(compiledCPU/naiveCPU, "x-naive")
			b.ReportMetric(float64(matched)/float64(n), "matches/event")
		})
	}
}

// cpuTime is the CPU time the process has used: on a machine shared with
// other work, events per CPU-second is the figure comparable with
// event-ruler's single-core numbers; wall-clock events/s is reported too.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
