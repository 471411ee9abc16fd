package resource

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// decode fills the struct *dst from a resource's evaluated properties
// (the JSON data model: map[string]any, []any, string, float64, bool,
// nil), leniently as CloudFormation does: a number may be written as a
// string ("128") and a string as a number, a boolean as "true". Keys
// match field names case-insensitively (or a field's `cfn:"Name"` tag),
// so AWS SDK types whose shape CloudFormation reuses (Cors,
// LoggingConfig, ...) can be decoded into directly. A key no field
// matches is an error, as in CloudFormation's schema validation.
func decode(props map[string]any, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("decode: destination %T is not a pointer to a struct", dst)
	}
	if props == nil {
		props = map[string]any{}
	}
	return decodeValue("#", props, v.Elem())
}

// propError is a schema violation, worded as CloudFormation's validator
// words it: "#/MemorySize: expected type: Number, found: String".
type propError struct{ path, msg string }

func (e *propError) Error() string {
	if e.path == "#" {
		return "#: " + e.msg
	}
	return e.path + ": " + e.msg
}

func decodeValue(path string, src any, dst reflect.Value) error {
	if src == nil {
		dst.SetZero()
		return nil
	}
	switch dst.Kind() {
	case reflect.Pointer:
		p := reflect.New(dst.Type().Elem())
		if err := decodeValue(path, src, p.Elem()); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	case reflect.Interface:
		if dst.NumMethod() != 0 {
			return fmt.Errorf("decode %s: unsupported destination %s", path, dst.Type())
		}
		dst.Set(reflect.ValueOf(src))
		return nil
	case reflect.Struct:
		m, ok := src.(map[string]any)
		if !ok {
			return &propError{path, "expected type: JSONObject, found: " + typeName(src)}
		}
		return decodeStruct(path, m, dst)
	case reflect.Map:
		m, ok := src.(map[string]any)
		if !ok {
			return &propError{path, "expected type: JSONObject, found: " + typeName(src)}
		}
		if dst.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("decode %s: unsupported map key %s", path, dst.Type().Key())
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(m))
		for _, k := range sortedKeys(m) {
			ev := reflect.New(dst.Type().Elem()).Elem()
			if err := decodeValue(path+"/"+k, m[k], ev); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(dst.Type().Key()), ev)
		}
		dst.Set(out)
		return nil
	case reflect.Slice:
		if dst.Type().Elem().Kind() == reflect.Uint8 {
			s, ok := src.(string)
			if !ok {
				return &propError{path, "expected type: String, found: " + typeName(src)}
			}
			dst.SetBytes([]byte(s))
			return nil
		}
		l, ok := src.([]any)
		if !ok {
			return &propError{path, "expected type: JSONArray, found: " + typeName(src)}
		}
		out := reflect.MakeSlice(dst.Type(), len(l), len(l))
		for i, e := range l {
			if err := decodeValue(path+"/"+strconv.Itoa(i), e, out.Index(i)); err != nil {
				return err
			}
		}
		dst.Set(out)
		return nil
	case reflect.String:
		switch s := src.(type) {
		case string:
			dst.SetString(s)
		case float64:
			dst.SetString(strconv.FormatFloat(s, 'f', -1, 64))
		case bool:
			dst.SetString(strconv.FormatBool(s))
		default:
			return &propError{path, "expected type: String, found: " + typeName(src)}
		}
		return nil
	case reflect.Bool:
		switch b := src.(type) {
		case bool:
			dst.SetBool(b)
		case string:
			pb, err := strconv.ParseBool(b)
			if err != nil || (b != "true" && b != "false") {
				return &propError{path, "expected type: Boolean, found: String"}
			}
			dst.SetBool(pb)
		default:
			return &propError{path, "expected type: Boolean, found: " + typeName(src)}
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f, err := number(path, src)
		if err != nil {
			return err
		}
		if f != math.Trunc(f) || dst.OverflowInt(int64(f)) || math.Abs(f) > 1<<53 {
			return &propError{path, "expected type: Integer, found: " + strconv.FormatFloat(f, 'g', -1, 64)}
		}
		dst.SetInt(int64(f))
		return nil
	case reflect.Float32, reflect.Float64:
		f, err := number(path, src)
		if err != nil {
			return err
		}
		dst.SetFloat(f)
		return nil
	}
	return fmt.Errorf("decode %s: unsupported destination %s", path, dst.Type())
}

func number(path string, src any) (float64, error) {
	switch n := src.(type) {
	case float64:
		return n, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, &propError{path, "expected type: Number, found: String"}
		}
		return f, nil
	}
	return 0, &propError{path, "expected type: Number, found: " + typeName(src)}
}

func decodeStruct(path string, m map[string]any, dst reflect.Value) error {
	t := dst.Type()
	fields := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag := f.Tag.Get("cfn"); tag != "" {
			if tag == "-" {
				continue
			}
			name = tag
		}
		fields[strings.ToLower(name)] = i
	}
	var extra []string
	for _, k := range sortedKeys(m) {
		i, ok := fields[strings.ToLower(k)]
		if !ok {
			extra = append(extra, k)
			continue
		}
		if err := decodeValue(path+"/"+k, m[k], dst.Field(i)); err != nil {
			return err
		}
	}
	if len(extra) > 0 {
		return &propError{path, "extraneous key [" + strings.Join(extra, ", ") + "] is not permitted"}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "String"
	case float64:
		return "Number"
	case bool:
		return "Boolean"
	case []any:
		return "JSONArray"
	case map[string]any:
		return "JSONObject"
	}
	return fmt.Sprintf("%T", v)
}
