package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// TestConsoleCommand: `nimbus console --print` prints a one-time sign-in
// link to the server's console; opening it signs the browser in (a
// session cookie that the console then knows as root) and sends it to
// the console; opening it a second time is refused. Without --print and
// without a desktop opener the command prints the link to open.
func TestConsoleCommand(t *testing.T) {
	t.Parallel()
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	out, errOut, err := run(t, env, t.TempDir(), nimbusBin, "console", "--print")
	if err != nil {
		t.Fatalf("nimbus console --print: %v %s", err, errOut)
	}
	link, err := url.Parse(strings.TrimSpace(out))
	if err != nil || link.Hostname() != "console.localhost" || link.Path != "/link" || len(link.Query().Get("t")) < 40 {
		t.Fatalf("link %q: %v", out, err)
	}
	// A browser resolves console.localhost to loopback itself; this client
	// dials the server for it.
	addr := strings.TrimPrefix(endpoint, "http://")
	client := &http.Client{
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// answer is what a GET answered (its body read and closed).
	type answer struct {
		StatusCode int
		Header     http.Header
		cookies    []*http.Cookie
	}
	get := func(u string, cookie *http.Cookie) (answer, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header, resp.Cookies()}, string(b)
	}
	resp, _ := get(link.String(), nil)
	var cookie *http.Cookie
	for _, c := range resp.cookies {
		if c.Name == "nimbus_console" && c.HttpOnly && c.SameSite == http.SameSiteStrictMode {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || cookie == nil {
		t.Fatalf("first use of the link: %d to %q, cookies %v", resp.StatusCode, resp.Header.Get("Location"), resp.cookies)
	}
	resp, body := get("http://console.localhost/api/session", cookie)
	var s struct{ Principal string }
	if err := json.Unmarshal([]byte(body), &s); err != nil || resp.StatusCode != http.StatusOK || !strings.HasSuffix(s.Principal, ":root") {
		t.Errorf("session after the link: %d %s", resp.StatusCode, body)
	}
	resp, body = get(link.String(), nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "used already or has expired") || len(resp.cookies) != 0 {
		t.Errorf("second use of the link: %d %.200s", resp.StatusCode, body)
	}

	// No browser to open (no xdg-open on this PATH): the link is printed.
	bare := t.TempDir()
	noOpener := []string{"PATH=" + bare, "HOME=" + os.Getenv("HOME")}
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "HOME=") {
			noOpener = append(noOpener, kv)
		}
	}
	out, errOut, err = run(t, noOpener, t.TempDir(), nimbusBin, "console")
	if err != nil || !strings.Contains(out, "Open this one-time link in a browser:\nhttp://console.localhost:") {
		t.Errorf("nimbus console without a browser: %v %q %s", err, out, errOut)
	}
}
