package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// samConfig is what `nimbus deploy` reads of a SAM CLI samconfig.toml:
// the deploy command's stack name and parameter overrides, from
// [default.deploy.parameters], else [default.global.parameters].
type samConfig struct {
	StackName          string
	ParameterOverrides []string // KEY=VALUE or ParameterKey=K,ParameterValue=V
}

// parseSamConfig reads the subset of TOML samconfig files use: tables,
// key = value with strings (basic, literal, multi-line), arrays (across
// lines), booleans and numbers, and comments.
func parseSamConfig(src string) (*samConfig, error) {
	tables, err := parseTOML(src)
	if err != nil {
		return nil, fmt.Errorf("samconfig.toml: %w", err)
	}
	cfg := &samConfig{}
	for _, table := range []string{"default.global.parameters", "default.deploy.parameters"} {
		kv := tables[table]
		if v, ok := kv["stack_name"].(string); ok {
			cfg.StackName = v
		}
		switch v := kv["parameter_overrides"].(type) {
		case string:
			cfg.ParameterOverrides = splitOverrides(v)
		case []any:
			cfg.ParameterOverrides = nil
			for _, e := range v {
				if s, ok := e.(string); ok {
					cfg.ParameterOverrides = append(cfg.ParameterOverrides, splitOverrides(s)...)
				}
			}
		}
	}
	return cfg, nil
}

// parseTOML returns each table's keys and values (dotted table names as
// written, without quotes).
func parseTOML(src string) (map[string]map[string]any, error) {
	p := &tomlParser{s: src, line: 1}
	tables := map[string]map[string]any{"": {}}
	current := ""
	for {
		p.skipSpaceAndComments(true)
		if p.eof() {
			return tables, nil
		}
		if p.peek() == '[' {
			p.pos++
			if !p.eof() && p.peek() == '[' {
				return nil, p.errorf("arrays of tables are not supported")
			}
			end := strings.IndexByte(p.s[p.pos:], ']')
			if end < 0 {
				return nil, p.errorf("unterminated table header")
			}
			name := strings.TrimSpace(p.s[p.pos : p.pos+end])
			p.pos += end + 1
			current = unquoteDotted(name)
			if tables[current] == nil {
				tables[current] = map[string]any{}
			}
			if err := p.endOfLine(); err != nil {
				return nil, err
			}
			continue
		}
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.eof() || p.peek() != '=' {
			return nil, p.errorf("expected = after key %q", key)
		}
		p.pos++
		p.skipSpace()
		v, err := p.value(0)
		if err != nil {
			return nil, err
		}
		tables[current][key] = v
		if err := p.endOfLine(); err != nil {
			return nil, err
		}
	}
}

func unquoteDotted(name string) string {
	parts := strings.Split(name, ".")
	for i, part := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(part), `"'`)
	}
	return strings.Join(parts, ".")
}

type tomlParser struct {
	s    string
	pos  int
	line int
}

func (p *tomlParser) eof() bool  { return p.pos >= len(p.s) }
func (p *tomlParser) peek() byte { return p.s[p.pos] }

func (p *tomlParser) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", p.line, fmt.Sprintf(format, args...))
}

func (p *tomlParser) skipSpace() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.pos++
	}
}

// skipSpaceAndComments skips blanks and comments, and newlines too when
// newlines is set.
func (p *tomlParser) skipSpaceAndComments(newlines bool) {
	for !p.eof() {
		switch c := p.peek(); {
		case c == ' ' || c == '\t' || c == '\r':
			p.pos++
		case c == '\n' && newlines:
			p.pos++
			p.line++
		case c == '#':
			for !p.eof() && p.peek() != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

func (p *tomlParser) endOfLine() error {
	p.skipSpaceAndComments(false)
	if p.eof() {
		return nil
	}
	if p.peek() != '\n' {
		return p.errorf("unexpected %q after value", p.peek())
	}
	return nil
}

func (p *tomlParser) key() (string, error) {
	if c := p.peek(); c == '"' || c == '\'' {
		v, err := p.str()
		return v, err
	}
	start := p.pos
	for !p.eof() {
		c := p.peek()
		if c == '_' || c == '-' || c == '.' || c < unicode.MaxASCII && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c))) {
			p.pos++
			continue
		}
		break
	}
	if p.pos == start {
		return "", p.errorf("expected a key")
	}
	return p.s[start:p.pos], nil
}

// maxDepth bounds nested arrays.
const maxDepth = 32

func (p *tomlParser) value(depth int) (any, error) {
	if p.eof() {
		return nil, p.errorf("expected a value")
	}
	switch p.peek() {
	case '"', '\'':
		return p.str()
	case '[':
		if depth >= maxDepth {
			return nil, p.errorf("arrays nested too deeply")
		}
		p.pos++
		var arr []any
		for {
			p.skipSpaceAndComments(true)
			if p.eof() {
				return nil, p.errorf("unterminated array")
			}
			if p.peek() == ']' {
				p.pos++
				return arr, nil
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
			p.skipSpaceAndComments(true)
			if p.eof() {
				return nil, p.errorf("unterminated array")
			}
			if p.peek() == ',' {
				p.pos++
			} else if p.peek() != ']' {
				return nil, p.errorf("expected , or ] in array")
			}
		}
	case '{':
		return nil, p.errorf("inline tables are not supported")
	}
	start := p.pos
	for !p.eof() && !strings.ContainsRune(" \t\r\n#,]", rune(p.peek())) {
		p.pos++
	}
	word := p.s[start:p.pos]
	switch word {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if f, err := strconv.ParseFloat(strings.ReplaceAll(word, "_", ""), 64); err == nil {
		return f, nil
	}
	return nil, p.errorf("unexpected value %q", word)
}

// str reads a basic ("..."), literal ('...') or multi-line string.
func (p *tomlParser) str() (string, error) {
	q := p.peek()
	if strings.HasPrefix(p.s[p.pos:], strings.Repeat(string(q), 3)) {
		delim := strings.Repeat(string(q), 3)
		p.pos += 3
		if strings.HasPrefix(p.s[p.pos:], "\n") {
			p.pos++
			p.line++
		}
		end := strings.Index(p.s[p.pos:], delim)
		if end < 0 {
			return "", p.errorf("unterminated multi-line string")
		}
		raw := p.s[p.pos : p.pos+end]
		p.line += strings.Count(raw, "\n")
		p.pos += end + 3
		if q == '\'' {
			return raw, nil
		}
		return unescape(raw)
	}
	p.pos++
	var b strings.Builder
	for {
		if p.eof() || p.peek() == '\n' {
			return "", p.errorf("unterminated string")
		}
		c := p.peek()
		p.pos++
		switch {
		case c == q:
			if q == '\'' {
				return b.String(), nil
			}
			return unescape(b.String())
		case c == '\\' && q == '"':
			if p.eof() {
				return "", p.errorf("unterminated string")
			}
			b.WriteByte(c)
			b.WriteByte(p.peek())
			p.pos++
		default:
			b.WriteByte(c)
		}
	}
}

var errBadEscape = errors.New("bad escape in string")

func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			return "", errBadEscape
		}
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '"', '\\':
			b.WriteByte(s[i])
		case 'u', 'U':
			n := 4
			if s[i] == 'U' {
				n = 8
			}
			if i+n >= len(s) {
				return "", errBadEscape
			}
			r, err := strconv.ParseUint(s[i+1:i+1+n], 16, 21)
			if err != nil || r > unicode.MaxRune {
				return "", errBadEscape
			}
			b.WriteRune(rune(r))
			i += n
		case '\n':
			// A line-ending backslash joins lines (multi-line strings).
			for i+1 < len(s) && strings.ContainsRune(" \t\n\r", rune(s[i+1])) {
				i++
			}
		default:
			return "", errBadEscape
		}
	}
	return b.String(), nil
}

// splitOverrides splits sam's --parameter-overrides string: space-separated
// KEY=VALUE (values may be quoted) or ParameterKey=K,ParameterValue=V.
func splitOverrides(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	inToken := false
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inToken = r, true
		case unicode.IsSpace(r):
			if inToken {
				out = append(out, cur.String())
				cur.Reset()
				inToken = false
			}
		default:
			cur.WriteRune(r)
			inToken = true
		}
	}
	if inToken {
		out = append(out, cur.String())
	}
	return out
}

// parseOverrides turns KEY=VALUE and ParameterKey=K,ParameterValue=V
// items into a map.
func parseOverrides(items []string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range items {
		if rest, ok := strings.CutPrefix(item, "ParameterKey="); ok {
			k, v, ok := strings.Cut(rest, ",ParameterValue=")
			if !ok || k == "" {
				return nil, fmt.Errorf("parameter override %q: want ParameterKey=K,ParameterValue=V", item)
			}
			out[k] = v
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("parameter override %q: want KEY=VALUE", item)
		}
		out[k] = v
	}
	return out, nil
}
