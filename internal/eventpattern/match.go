package eventpattern

import (
	"bytes"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"sync"
	"unicode"
	"unicode/utf8"
)

var (
	negInf = math.Inf(-1)
	posInf = math.Inf(1)
)

var eventPool = sync.Pool{New: func() any { return new(event) }}

// Match reports whether the JSON event data matches the pattern. An event
// that is not valid JSON returns a *SyntaxError. For SNSAttributes patterns
// use MatchAttributes.
func (p *Pattern) Match(data []byte) (bool, error) {
	ev := eventPool.Get().(*event)
	defer eventPool.Put(ev)
	if err := ev.parse(data, p.dict); err != nil {
		return false, err
	}
	e := evaluator{ev: ev}
	return e.obj(p.root, ev.root), nil
}

// Set is a group of patterns matched against one parse of each event, as a
// bus matches its rules. It is immutable and safe for concurrent use.
type Set struct {
	roots []*objPat // each pattern's tree with key ids renumbered for the set
	dict  map[string]int32
	// indexes pre-select candidates: a pattern that requires, along a
	// path of AND-ed fields, one of a few exact strings is evaluated only
	// for events holding one of them there. Patterns without such a field
	// are in always.
	indexes []keyIndex
	always  []int32
}

// keyIndex is the exact strings patterns require at one path.
type keyIndex struct {
	path   []int32
	values map[string][]int32 // value -> indexes of the patterns
}

// NewSet groups patterns; Match reports matches by their index here.
func NewSet(patterns ...*Pattern) *Set {
	s := &Set{dict: map[string]int32{}}
	for _, p := range patterns {
		remap := make([]int32, len(p.keys))
		for i, k := range p.keys {
			id, ok := s.dict[k]
			if !ok {
				id = int32(len(s.dict)) //nolint:gosec // G115: keys of compiled patterns, far below 2^31
				s.dict[k] = id
			}
			remap[i] = id
		}
		s.roots = append(s.roots, renumber(p.root, remap))
	}
	for i, root := range s.roots {
		idx := int32(i) //nolint:gosec // G115: a set holds far fewer than 2^31 patterns
		path, leaf := keyPath(root, nil)
		if leaf == nil {
			s.always = append(s.always, idx)
			continue
		}
		ix := s.index(path)
		for _, v := range leaf.strs {
			if l := ix.values[v]; len(l) == 0 || l[len(l)-1] != idx {
				ix.values[v] = append(l, idx)
			}
		}
	}
	return s
}

func (s *Set) index(path []int32) *keyIndex {
	for i := range s.indexes {
		if slices.Equal(s.indexes[i].path, path) {
			return &s.indexes[i]
		}
	}
	s.indexes = append(s.indexes, keyIndex{path: path, values: map[string][]int32{}})
	return &s.indexes[len(s.indexes)-1]
}

// keyPath finds a field every match of o requires whose leaf holds exact
// strings only, and returns its path.
func keyPath(o *objPat, prefix []int32) ([]int32, *leafPat) {
	for _, f := range o.fields {
		path := append(slices.Clip(prefix), f.id)
		if f.leaf != nil {
			l := f.leaf
			if len(l.strs) > 0 && len(l.nums) == 0 && len(l.ms) == 0 && !l.null && !l.isTrue && !l.isFalse && !l.existsTrue && !l.existsFalse {
				return path, l
			}
			continue
		}
		if p, l := keyPath(f.obj, path); l != nil {
			return p, l
		}
	}
	return nil, nil
}

// renumber copies the object levels of a pattern tree with key ids mapped
// through remap; leaves are immutable and shared.
func renumber(o *objPat, remap []int32) *objPat {
	c := &objPat{fields: make([]fieldPat, len(o.fields))}
	for i, f := range o.fields {
		c.fields[i] = fieldPat{id: remap[f.id], leaf: f.leaf}
		if f.obj != nil {
			c.fields[i].obj = renumber(f.obj, remap)
		}
	}
	for _, alts := range o.ors {
		cs := make([]*objPat, len(alts))
		for i, a := range alts {
			cs[i] = renumber(a, remap)
		}
		c.ors = append(c.ors, cs)
	}
	return c
}

// Len is the number of patterns in the set.
func (s *Set) Len() int { return len(s.roots) }

// Match appends to dst the indexes of the patterns that match the JSON event
// data and returns it.
func (s *Set) Match(data []byte, dst []int) ([]int, error) {
	ev := eventPool.Get().(*event)
	defer eventPool.Put(ev)
	if err := ev.parse(data, s.dict); err != nil {
		return dst, err
	}
	return s.matchParsed(ev, dst), nil
}

func (s *Set) matchParsed(ev *event, dst []int) []int {
	words := (len(s.roots) + 63) / 64
	if cap(ev.marks) < words {
		ev.marks = make([]uint64, words)
	}
	marks := ev.marks[:words]
	clear(marks)
	for _, i := range s.always {
		marks[i/64] |= 1 << (i % 64)
	}
	for i := range s.indexes {
		ev.markCandidates(ev.root, &s.indexes[i], 0, marks)
	}
	e := evaluator{ev: ev}
	for w, word := range marks {
		for word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if e.obj(s.roots[i], ev.root) {
				dst = append(dst, i)
			}
		}
	}
	return dst
}

// markCandidates marks the patterns of ix whose required string is among
// the string leaves at ix.path below n (through any arrays).
func (ev *event) markCandidates(n int32, ix *keyIndex, depth int, marks []uint64) {
	if n < 0 {
		return
	}
	v := &ev.nodes[n]
	if v.kind == kArr {
		for c := v.child; c >= 0; c = ev.nodes[c].next {
			ev.markCandidates(c, ix, depth, marks)
		}
		return
	}
	if depth == len(ix.path) {
		if v.kind == kStr {
			for _, i := range ix.values[string(v.str)] {
				marks[i/64] |= 1 << (i % 64)
			}
		}
		return
	}
	if v.kind == kObj {
		ev.markCandidates(ev.member(n, ix.path[depth]), ix, depth+1, marks)
	}
}

// evaluator walks a compiled pattern over a parsed event.
type evaluator struct {
	ev *event
	// The last address parsed for a cidr match: the rules of a Set tend to
	// look at the same value one after another.
	ipNode *node
	ip     netip.Addr
	ipOK   bool
}

// lookup finds the member id of object n; the last of duplicate keys wins,
// as in encoding/json.
func (e *evaluator) lookup(n, id int32) int32 { return e.ev.member(n, id) }

// member finds the member id of object n (-1: none).
func (ev *event) member(n, id int32) int32 {
	if n < 0 || ev.nodes[n].kind != kObj {
		return -1
	}
	found := int32(-1)
	nodes := ev.nodes
	for c := nodes[n].child; c >= 0; c = nodes[c].next {
		if nodes[c].id == id {
			found = c
		}
	}
	return found
}

// obj matches an object pattern against value n (-1: absent). Through an
// array, the pattern must match within one element (event-ruler's
// array-consistent matching); a value with no object in it is matched as if
// every field were absent.
func (e *evaluator) obj(p *objPat, n int32) bool {
	if n >= 0 {
		switch e.ev.nodes[n].kind {
		case kObj:
			return e.objDirect(p, n)
		case kArr:
			seen := false
			if e.anyElement(p, n, &seen) {
				return true
			}
			if seen {
				return false
			}
		}
	}
	return e.objDirect(p, -1)
}

func (e *evaluator) anyElement(p *objPat, arr int32, seen *bool) bool {
	nodes := e.ev.nodes
	for c := nodes[arr].child; c >= 0; c = nodes[c].next {
		switch nodes[c].kind {
		case kObj:
			*seen = true
			if e.objDirect(p, c) {
				return true
			}
		case kArr:
			if e.anyElement(p, c, seen) {
				return true
			}
		}
	}
	return false
}

func (e *evaluator) objDirect(p *objPat, n int32) bool {
	for i := range p.fields {
		f := &p.fields[i]
		c := e.lookup(n, f.id)
		if f.obj != nil {
			if !e.obj(f.obj, c) {
				return false
			}
		} else if !e.leaf(f.leaf, c) {
			return false
		}
	}
	for _, alts := range p.ors {
		ok := false
		for _, a := range alts {
			if e.objDirect(a, n) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// leaf matches a leaf field against value n: any leaf value (array elements
// flattened, objects ignored) matching any member of the pattern array. A
// field with no leaf values matches only {"exists": false}.
func (e *evaluator) leaf(l *leafPat, n int32) bool {
	if n < 0 {
		return l.existsFalse
	}
	v := &e.ev.nodes[n]
	switch v.kind {
	case kObj:
		return l.existsFalse
	case kArr:
		seen := false
		if e.anyLeaf(l, n, &seen) {
			return true
		}
		return !seen && l.existsFalse
	default:
		return l.existsTrue || l.value(e, v)
	}
}

func (e *evaluator) anyLeaf(l *leafPat, arr int32, seen *bool) bool {
	nodes := e.ev.nodes
	for c := nodes[arr].child; c >= 0; c = nodes[c].next {
		switch nodes[c].kind {
		case kObj:
		case kArr:
			if e.anyLeaf(l, c, seen) {
				return true
			}
		default:
			*seen = true
			if l.existsTrue || l.value(e, &nodes[c]) {
				return true
			}
		}
	}
	return false
}

// value matches one leaf value.
func (l *leafPat) value(e *evaluator, v *node) bool {
	switch v.kind {
	case kStr:
		for _, s := range l.strs {
			if string(v.str) == s {
				return true
			}
		}
	case kNum:
		for _, x := range l.nums {
			if v.num == x {
				return true
			}
		}
	case kNull:
		if l.null {
			return true
		}
	case kTrue:
		if l.isTrue {
			return true
		}
	case kFalse:
		if l.isFalse {
			return true
		}
	}
	for i := range l.ms {
		if l.ms[i].match(e, v) {
			return true
		}
	}
	return false
}

func (m *matcher) match(e *evaluator, v *node) bool {
	isStr := v.kind == kStr
	switch m.kind {
	case mPrefix:
		return isStr && hasPrefix(v.str, m.strs[0])
	case mPrefixFold:
		return isStr && foldPrefix(v.str, m.strs[0]) >= 0
	case mSuffix:
		return isStr && hasSuffix(v.str, m.strs[0])
	case mSuffixFold:
		return isStr && foldSuffix(v.str, m.strs[0])
	case mEqualsFold:
		return isStr && foldPrefix(v.str, m.strs[0]) == len(v.str)
	case mWildcard:
		return isStr && m.wilds[0].match(v.str)
	case mNumeric:
		if v.kind != kNum {
			return false
		}
		x := v.num
		return (x > m.lo || (m.loIncl && x == m.lo)) && (x < m.hi || (m.hiIncl && x == m.hi))
	case mCIDR:
		if !isStr {
			return false
		}
		if e.ipNode != v {
			e.ipNode = v
			e.ip, e.ipOK = parseIP(v.str)
		}
		return e.ipOK && m.prefix.Contains(e.ip)
	case mNotStr:
		if !isStr {
			return true
		}
		for _, s := range m.strs {
			if string(v.str) == s {
				return false
			}
		}
		return true
	case mNotNum:
		if v.kind != kNum {
			return true
		}
		for _, x := range m.nums {
			if v.num == x {
				return false
			}
		}
		return true
	case mNotPrefix, mNotSuffix, mNotFold:
		if !isStr {
			return true
		}
		for _, s := range m.strs {
			var hit bool
			switch m.kind {
			case mNotPrefix:
				hit = hasPrefix(v.str, s)
			case mNotSuffix:
				hit = hasSuffix(v.str, s)
			default:
				hit = foldPrefix(v.str, s) == len(v.str)
			}
			if hit {
				return false
			}
		}
		return true
	case mNotWildcard:
		if !isStr {
			return true
		}
		for i := range m.wilds {
			if m.wilds[i].match(v.str) {
				return false
			}
		}
		return true
	}
	return false
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

func hasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}

func (w *wildcard) match(b []byte) bool {
	parts := w.parts
	if len(parts) == 1 {
		return string(b) == parts[0]
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(b) < len(first)+len(last) || !hasPrefix(b, first) || !hasSuffix(b, last) {
		return false
	}
	mid := b[len(first) : len(b)-len(last)]
	for _, s := range parts[1 : len(parts)-1] {
		j := indexString(mid, s)
		if j < 0 {
			return false
		}
		mid = mid[j+len(s):]
	}
	return true
}

// indexString is bytes.Index for a string needle, without converting it.
func indexString(b []byte, s string) int {
	if len(s) == 0 {
		return 0
	}
	for i := 0; i+len(s) <= len(b); {
		j := bytes.IndexByte(b[i:len(b)-len(s)+1], s[0])
		if j < 0 {
			return -1
		}
		i += j
		if string(b[i:i+len(s)]) == s {
			return i
		}
		i++
	}
	return -1
}

// foldEqual reports whether two runes are equal under Unicode simple case
// folding (strings.EqualFold's rule).
func foldEqual(a, b rune) bool {
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

// foldPrefix returns how many bytes of b match s rune by rune under case
// folding, or -1 when b does not start with s.
func foldPrefix(b []byte, s string) int {
	i := 0
	for j := 0; j < len(s); j++ {
		// ASCII against ASCII: equal under folding exactly when equal
		// after lowering letters.
		if c := s[j]; c < utf8.RuneSelf {
			if i >= len(b) {
				return -1
			}
			if d := b[i]; d < utf8.RuneSelf {
				if c != d && lowerASCII(c) != lowerASCII(d) {
					return -1
				}
				i++
				continue
			}
		}
		r, m := utf8.DecodeRuneInString(s[j:])
		j += m - 1
		if i >= len(b) {
			return -1
		}
		r1, n := utf8.DecodeRune(b[i:])
		if !foldEqual(r1, r) {
			return -1
		}
		i += n
	}
	return i
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func foldSuffix(b []byte, s string) bool {
	for len(s) > 0 {
		if len(b) == 0 {
			return false
		}
		r1, n1 := utf8.DecodeLastRune(b)
		r2, n2 := utf8.DecodeLastRuneInString(s)
		if !foldEqual(r1, r2) {
			return false
		}
		b, s = b[:len(b)-n1], s[:len(s)-n2]
	}
	return true
}

// parseIP parses an IP address without allocating for IPv4; IPv6 goes
// through netip.ParseAddr. Zones are refused, as in patterns.
func parseIP(b []byte) (netip.Addr, bool) {
	if bytes.IndexByte(b, ':') >= 0 {
		a, err := netip.ParseAddr(string(b))
		return a, err == nil && a.Zone() == ""
	}
	var v4 [4]byte
	part, digits, val := 0, 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if digits > 0 && val == 0 {
				return netip.Addr{}, false // a leading zero
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return netip.Addr{}, false
			}
		case c == '.':
			if digits == 0 || part == 3 {
				return netip.Addr{}, false
			}
			v4[part] = byte(val) //nolint:gosec // G115: val <= 255, checked above
			part, digits, val = part+1, 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if part != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	v4[3] = byte(val) //nolint:gosec // G115: val <= 255, checked above
	return netip.AddrFrom4(v4), true
}
