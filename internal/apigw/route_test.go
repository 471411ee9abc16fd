package apigw

import (
	"strings"
	"testing"
)

func TestRoutePrecedence(t *testing.T) {
	keys := []string{
		"$default",
		"ANY /{proxy+}",
		"GET /pets",
		"ANY /pets/{id}",
		"GET /pets/{id}",
		"GET /pets/dog",
		"GET /pets/{id}/toys",
		"POST /files/{path+}",
		"GET /a/{x}/c",
		"GET /a/b/{y}",
	}
	var rks []routeKey
	for _, k := range keys {
		rk, ok := parseRouteKey(k)
		if !ok {
			t.Fatalf("parseRouteKey(%q) refused", k)
		}
		rks = append(rks, rk)
	}
	for _, tc := range []struct {
		method, path, want string
		params             string
	}{
		{"GET", "/pets", "GET /pets", ""},
		{"GET", "/pets/", "GET /pets", ""}, // a trailing slash is ignored
		{"GET", "/pets/dog", "GET /pets/dog", ""},
		{"GET", "/pets/cat", "GET /pets/{id}", "id=cat"},
		{"DELETE", "/pets/cat", "ANY /pets/{id}", "id=cat"},
		{"GET", "/pets/cat/toys", "GET /pets/{id}/toys", "id=cat"},
		{"GET", "/pets/cat/food", "ANY /{proxy+}", "proxy=pets/cat/food"},
		{"POST", "/files/a/b/c.txt", "POST /files/{path+}", "path=a/b/c.txt"},
		{"GET", "/files/a", "ANY /{proxy+}", "proxy=files/a"},
		{"GET", "/a/b/c", "GET /a/b/{y}", "y=c"}, // the earlier literal wins
		{"GET", "/caf%C3%A9", "ANY /{proxy+}", "proxy=café"},
		{"GET", "/", "$default", ""},
	} {
		raw, _ := splitPath(tc.path)
		i, params := matchRoutes(rks, tc.method, raw, true)
		got := "none"
		if i >= 0 {
			got = keys[i]
		}
		var ps []string
		for k, v := range params {
			ps = append(ps, k+"="+v)
		}
		if got != tc.want || strings.Join(ps, ",") != tc.params {
			t.Errorf("%s %s -> %s %v, want %s %s", tc.method, tc.path, got, params, tc.want, tc.params)
		}
	}
}

func TestRouteKeyValidation(t *testing.T) {
	for _, k := range []string{"", "GET", "GET pets", "FETCH /pets", "GET /{proxy+}/x", "GET /{a}/{a}", "GET //x", "GET /a{b}", "get /x", "GET /{}"} {
		if _, ok := parseRouteKey(k); ok {
			t.Errorf("parseRouteKey(%q) accepted", k)
		}
	}
	for _, k := range []string{"$default", "ANY /", "GET /{proxy+}", "PATCH /a/{b}/c", "OPTIONS /x.y-z_1"} {
		if _, ok := parseRouteKey(k); !ok {
			t.Errorf("parseRouteKey(%q) refused", k)
		}
	}
}

// FuzzRouteMatch: any route key that parses, matched against any path,
// never panics; a match binds every parameter of the key, and a route
// matches the path its own key writes with the parameters filled in.
func FuzzRouteMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"GET /pets/{id}", "/pets/1"}, {"ANY /{proxy+}", "/a/b/c"}, {"$default", "/"}, {"GET /a/b", "/a/b/"},
		{"GET /{a}/{b+}", "/x/%2F/y"}, {"POST /x", "//x"}, {"GET /{id}", "/%zz"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, path string) {
		rk, ok := parseRouteKey(key)
		raw, pok := splitPath(path)
		if !ok || !pok {
			return
		}
		i, params := matchRoutes([]routeKey{rk}, "GET", raw, true)
		if i < 0 || rk.isDefault {
			return
		}
		for _, sg := range rk.path.segs {
			if sg.kind != segLiteral {
				if _, ok := params[sg.text]; !ok {
					t.Fatalf("%q matched %q without binding %s", key, path, sg.text)
				}
			}
		}
	})
}
