package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwt "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The console in a real browser: Debian's chromium, headless, driven
// through the DevTools protocol. One browser for the whole test, reused
// by its steps (the machine is shared).

// chromiumPath finds the browser; under CI=true a missing browser fails
// the test (.ci/run installs it), elsewhere it skips with a message.
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: the console's browser tests need it (apt-get install chromium; .ci/run installs it)")
	}
	t.Skip("chromium is not installed: skipping the console's browser tests (apt-get install chromium to run them)")
	return ""
}

// browser is one headless chromium and the console messages its page wrote.
type browser struct {
	ctx   context.Context
	shots string // where screenshots go
	mu    sync.Mutex
	msg   []string // guarded by mu: errors and exceptions the page wrote
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	b := &browser{ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" {
				b.mu.Lock()
				b.msg = append(b.msg, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// errors returns and forgets the errors the page wrote so far.
func (b *browser) errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.msg
	b.msg = nil
	return m
}

// do runs actions, bounded by a hang guard.
func (b *browser) do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		if b.shots != "" {
			sctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
			defer cancel()
			if png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)); err == nil {
				_ = os.WriteFile(filepath.Join(b.shots, "failed.png"), png, 0o600)
			}
			if txt, err := chromedp.Run(sctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`)); err == nil {
				t.Logf("page at failure: %.2000s", txt)
			}
		}
		t.Fatalf("%s: %v (screenshot failed.png in %s)", what, err, b.shots)
	}
}

func eval[T any](t testing.TB, b *browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// poll waits until the expression is true (a hang guard of 90 s).
func poll(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool](js, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(90*time.Second))(ctx, tg)
		return err
	})
}

// pageReady: the view finished loading.
const pageReady = `document.querySelector('#page[aria-busy="false"]') !== null`

// screenshot saves the page to NIMBUS_CONSOLE_SCREENSHOTS (or a
// temporary directory) as name.png.
func (b *browser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o600); err != nil {
		t.Fatal(err)
	}
}

const pyConsoleFunction = `import json
def handler(event, context):
    print("console-line " + str(event.get("marker", "")))
    if event.get("fail"):
        raise Exception("asked to fail")
    return {"ok": True}
`

// consoleLinkPath asks the node for a one-time link, signed as root.
func consoleLinkPath(t *testing.T, n *node) string {
	t.Helper()
	resp, err := n.httpClient("lambda").Post(n.endpoint()+"/_nimbus/console/api/link", "", http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct{ Path string }
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || l.Path == "" {
		t.Fatalf("link: %d %v", resp.StatusCode, err)
	}
	return l.Path
}

func invokeConsoleFn(t *testing.T, n *node, payload string) {
	t.Helper()
	if _, err := n.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(payload)}); err != nil {
		t.Fatalf("invoke: %v", err)
	}
}

func TestConsoleInBrowser(t *testing.T) {
	chromiumPath(t)
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String("hello"), Runtime: lambdatypes.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &lambdatypes.FunctionCode{ZipFile: zipFiles(t, map[string]zipEntry{"app.py": {data: []byte(pyConsoleFunction)}})},
	})
	for i := range 4 {
		invokeConsoleFn(t, n, fmt.Sprintf(`{"marker":"warm-%d","fail":%v}`, i, i == 3))
	}
	cw := cloudwatch.NewFromConfig(n.awsConfig())
	if _, err := cw.PutDashboard(ctx, &cloudwatch.PutDashboardInput{DashboardName: aws.String("ops"), DashboardBody: aws.String(`{"widgets":[
		{"type":"text","x":0,"y":0,"width":24,"height":2,"properties":{"markdown":"# Operations\nThe **hello** function."}},
		{"type":"metric","x":0,"y":2,"width":12,"height":6,"properties":{"metrics":[["AWS/Lambda","Invocations","FunctionName","hello"]],"period":60,"stat":"Sum","title":"hello invocations"}},
		{"type":"metric","x":12,"y":2,"width":6,"height":3,"properties":{"view":"singleValue","setPeriodToTimeRange":true,"metrics":[["AWS/Lambda","Invocations","FunctionName","hello",{"label":"Calls"}]],"stat":"Sum","title":"hello calls"}},
		{"type":"alarm","x":18,"y":2,"width":6,"height":3,"properties":{"title":"Alarms","alarms":["arn:aws:cloudwatch:us-east-1:000000000000:alarm:hello-errors"]}},
		{"type":"log","x":12,"y":5,"width":12,"height":3,"properties":{"query":"SOURCE '/aws/lambda/hello' | fields @message","title":"hello log query"}}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("hello-errors"), Namespace: aws.String("AWS/Lambda"),
		MetricName: aws.String("Errors"), Dimensions: []cwt.Dimension{{Name: aws.String("FunctionName"), Value: aws.String("hello")}},
		Statistic: cwt.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(100),
		ComparisonOperator: cwt.ComparisonOperatorGreaterThanThreshold}); err != nil {
		t.Fatal(err)
	}
	invokedDay := time.Now().UTC().YearDay()
	data := seedConsole(t, n)
	shots := os.Getenv("NIMBUS_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.shots = shots
	_, port, _ := strings.Cut(n.d.Addr(), ":")
	pathBase := n.endpoint() + "/_nimbus/console/"
	hostBase := "http://console.localhost:" + port + "/"
	root := n.creds()

	t.Run("sign-in required, wrong key refused", func(t *testing.T) {
		b.do(t, "open", chromedp.Navigate(pathBase), chromedp.WaitVisible("#signin"))
		if hidden := eval[bool](t, b, `document.getElementById("nav").hidden`); !hidden {
			t.Error("the navigation shows before signing in")
		}
		b.do(t, "wrong key", chromedp.SendKeys(`input[name=accessKeyId]`, root.AccessKeyID),
			chromedp.SendKeys(`input[name=secretAccessKey]`, "wrong-secret-wrong-secret"), chromedp.Click(`#signin button[type=submit]`),
			poll(`document.getElementById("signin-error").textContent !== ""`))
		if msg := eval[string](t, b, `document.getElementById("signin-error").textContent`); !strings.Contains(msg, "not valid") {
			t.Errorf("wrong key: %q", msg)
		}
		b.screenshot(t, shots, "signin")
		b.errors() // the refused sign-in's 403 is logged by the browser
		if s := eval[bool](t, b, `fetch("api/session").then(r => r.json()).then(s => s.principal !== "")`); s {
			t.Error("a session after a wrong key")
		}
	})

	t.Run("one-time link works once", func(t *testing.T) {
		link := hostBase + consoleLinkPath(t, n)
		b.do(t, "open link", chromedp.Navigate(link), poll(pageReady))
		if who := eval[string](t, b, `document.getElementById("who").textContent`); !strings.HasSuffix(who, ":root") {
			t.Errorf("signed in as %q", who)
		}
		res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{hostBase}})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range res.Cookies {
			if c.Name == "nimbus_console" {
				found = true
				if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
					t.Errorf("cookie HttpOnly %v SameSite %q", c.HTTPOnly, c.SameSite)
				}
			}
		}
		if !found {
			t.Error("no session cookie")
		}
		if v := eval[string](t, b, `document.cookie`); strings.Contains(v, "nimbus_console") {
			t.Error("a script can read the session cookie")
		}
		if errs := b.errors(); len(errs) > 0 {
			t.Errorf("console errors: %v", errs)
		}
		b.do(t, "open link again", chromedp.Navigate(link), chromedp.WaitVisible("h1"))
		if body := eval[string](t, b, `document.body.textContent`); !strings.Contains(body, "used already or has expired") {
			t.Errorf("second use of the link: %.200q", body)
		}
		b.errors() // the refused link's 403
	})

	type pageCheck struct {
		path  string
		wants []string // texts the page shows
		js    string   // further check: an expression true when the page is right
	}
	wf := "workflows/" + url.PathEscape(data.machineArn)
	pages := []pageCheck{
		// Today's cost counts the four invocations (unless the day turned since).
		{"overview", []string{"healthy", "Functions", "Protection", "since 00:00 UTC"},
			fmt.Sprintf(`%v || document.getElementById("cost-today").textContent.includes(" for 4 requests ")`, time.Now().UTC().YearDay() != invokedDay)},
		{"functions", []string{"hello", "python3.12"}, ""},
		{"functions/hello", []string{"app.handler", "Last invocations", "$LATEST"}, `document.querySelectorAll("#page table code").length >= 4`},
		// Each series' legend entry is a keyboard control (the x axis' is not).
		{"graphs/hello", []string{"Invocations", "Errors", "Cold starts"}, `[...document.querySelectorAll(".chart")].every(c =>
			c.querySelectorAll(".u-series[role=button][tabindex='0']").length === JSON.parse(c.dataset.series).length)`},
		{"logs", []string{"console-line warm-0"}, ""},
		{"stacks", []string{"console-stack", "CREATE_COMPLETE"}, ""},
		{"stacks/console-stack", []string{"Jobs", "AWS::SQS::Queue", "JobsUrl", "console-stack-jobs", "CREATE_COMPLETE"}, ""},
		{"apis", []string{"console-api", "GET /console-route"}, ""},
		{"queues", []string{"console-queue", "console-stack-jobs"},
			`[...document.querySelectorAll("#page tr")].some(r => r.cells[0]?.textContent === "console-queue" && r.cells[1].textContent === "2")`},
		{"events", []string{"console-bus", "console-rule", "console.test", "console-schedule", "rate(1 hour)"}, ""},
		{"buckets", []string{"console-bucket"}, ""},
		{"buckets/console-bucket", []string{"reports/a.txt", "reports/b.txt"}, ""},
		{"tables", []string{"console-table"}, ""},
		{"tables/console-table", []string{"item-1", "item-2", "item-3", "pk (HASH)"}, ""},
		{"workflows", []string{"console-flow"}, ""},
		{wf, []string{"console-run", "FAILED"}, `document.querySelectorAll("svg.sm g[data-state]").length === 4 &&
			/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/.test([...document.querySelectorAll("#page td")].at(-1).textContent)`},
		{wf + "/" + url.PathEscape(data.execArn), []string{"Execution console-run", "FAILED"},
			// The path coloured: entered states green, the failed one red, Done (never entered) plain.
			`(() => { const fill = n => getComputedStyle(document.querySelector('svg.sm g[data-state="' + n + '"] rect')).fill;
			  return fill("Prepare") === "rgb(215, 242, 208)" && fill("Check") === "rgb(215, 242, 208)" && fill("Broken") === "rgb(253, 226, 220)" &&
			    fill("Done") !== fill("Prepare") && fill("Done") !== fill("Broken"); })()`},
		{"dashboards", []string{"ops"}, ""},
		{"dashboards/ops", []string{"Operations", "hello invocations", "hello calls", "Calls", "hello-errors", "hello log query",
			"Log widgets (CloudWatch Logs Insights queries): not supported by Nimbus."},
			`document.querySelector(".single-value").dataset.value === "4" && ["OK", "INSUFFICIENT_DATA", "ALARM"].includes(document.querySelector("[data-state]")?.dataset.state)`},
	}
	t.Run("every page shows its data without console errors", func(t *testing.T) {
		for _, p := range pages {
			b.do(t, p.path, chromedp.Navigate(hostBase+"#/"+p.path), poll(pageReady))
			if p.path == "graphs/hello" || p.path == "dashboards/ops" {
				b.do(t, p.path+" graph", poll(`document.querySelector(".chart canvas") !== null`))
			}
			txt := eval[string](t, b, `document.getElementById("page").innerText`)
			for _, w := range p.wants {
				if !strings.Contains(txt, w) {
					t.Errorf("%s: the page lacks %q: %.600q", p.path, w, txt)
				}
			}
			if p.js != "" && !eval[bool](t, b, p.js) {
				t.Errorf("%s: %s is false; page: %.600q", p.path, p.js, txt)
			}
			if errs := b.errors(); len(errs) > 0 {
				t.Errorf("%s: console errors: %v", p.path, errs)
			}
			if denied := eval[int](t, b, `document.querySelectorAll("[data-denied], #page [role=alert]").length`); denied > 0 {
				t.Errorf("%s: a failure panel: %.300q", p.path, eval[string](t, b, `document.querySelector("[data-denied], #page [role=alert]").textContent`))
			}
			b.screenshot(t, shots, strings.ReplaceAll(strings.ReplaceAll(p.path, "/", "-"), "%", ""))
		}
		t.Logf("screenshots in %s", shots)
	})

	t.Run("graphs hold GetMetricData's points", func(t *testing.T) {
		b.do(t, "graphs", chromedp.Navigate(hostBase+"#/graphs/hello"), poll(pageReady),
			poll(`Number(document.querySelector('[aria-label="Invocations"]')?.dataset.points || 0) > 0`))
		// The page redraws every second; compare one drawing with the
		// API's answer for the same queries and period (metrics may still
		// arrive for a moment: a few tries, as a hang guard).
		var last string
		for range 20 {
			raw := eval[string](t, b, `JSON.stringify([...document.querySelectorAll(".chart")].map(c => c.dataset))`)
			var charts []struct{ Series, Queries, Start, End string }
			if err := json.Unmarshal([]byte(raw), &charts); err != nil || len(charts) != 6 {
				t.Fatalf("charts: %v %s", err, raw)
			}
			if last = compareCharts(t, cw, charts); last == "" {
				return
			}
			time.Sleep(500 * time.Millisecond) // a retry's pause (the page redraws every second), not a synchronisation
		}
		t.Error(last)
	})

	t.Run("live tail shows a new line", func(t *testing.T) {
		b.do(t, "logs", chromedp.Navigate(hostBase+"#/logs/"+url.PathEscape("/aws/lambda/hello")), poll(pageReady),
			chromedp.Click("#tail"), poll(`document.getElementById("tail").dataset.session === "open"`))
		marker := fmt.Sprintf("tail-%d", time.Now().UnixNano())
		invokeConsoleFn(t, n, `{"marker":"`+marker+`"}`)
		b.do(t, "tail", poll(`document.getElementById("log-lines").textContent.includes("console-line `+marker+`")`))
		b.screenshot(t, shots, "live-tail")
		if errs := b.errors(); len(errs) > 0 {
			t.Errorf("console errors: %v", errs)
		}
	})

	t.Run("a tab walk on every page reaches every control, each visibly focused", func(t *testing.T) {
		for _, p := range pages {
			b.do(t, p.path, chromedp.Navigate(hostBase+"#/"+p.path), poll(pageReady))
			// The controls, and the scrolled boxes without controls in them
			// (the browser makes those tab stops, so their content can be
			// scrolled by keyboard), in document order.
			total := eval[int](t, b, `(() => { const ctl = "a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex='-1'])";
				const scroller = e => { const s = getComputedStyle(e); return (/(auto|scroll)/.test(s.overflowY) && e.scrollHeight > e.clientHeight ||
					/(auto|scroll)/.test(s.overflowX) && e.scrollWidth > e.clientWidth) && !e.querySelector(ctl); };
				let i = 0; for (const e of document.querySelectorAll("body *")) {
				if (!e.matches(ctl) && !scroller(e)) continue;
				if (e.disabled || e.closest("[hidden]") || e.getClientRects().length === 0) continue; e.dataset.tw = String(i++); } return i; })()`)
			if total < 10 {
				t.Fatalf("%s: only %d controls", p.path, total)
			}
			_ = eval[bool](t, b, `(document.activeElement?.blur(), true)`)
			seen := map[string]bool{}
			// total+3 presses: a page that traps focus (or skips a control)
			// leaves some control unreached.
			for range total + 3 {
				b.do(t, "tab", chromedp.KeyEvent(kb.Tab))
				f := eval[string](t, b, `(() => { const e = document.activeElement; if (!e || e === document.body) return "";
					const s = getComputedStyle(e);
					const visible = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none";
					return (e.dataset.tw ?? "? " + e.outerHTML.slice(0, 100)) + (visible ? "" : " unmarked " + e.outerHTML.slice(0, 100)); })()`)
				if id, rest, ok := strings.Cut(f, " unmarked "); ok {
					t.Errorf("%s: control %s has no visible focus: %s", p.path, id, rest)
					f = id
				}
				seen[f] = true
				if strings.HasPrefix(f, "? ") {
					t.Logf("%s: a tab stop the walk did not count: %s", p.path, f)
				}
			}
			for i := range total {
				if !seen[fmt.Sprint(i)] {
					t.Errorf("%s: tab never reached control %d: %s", p.path, i, eval[string](t, b, fmt.Sprintf(`document.querySelector('[data-tw="%d"]').outerHTML.slice(0, 120)`, i)))
				}
			}
		}
	})

	t.Run("a graph's series toggles from the keyboard", func(t *testing.T) {
		b.do(t, "graphs", chromedp.Navigate(hostBase+"#/graphs/hello"), poll(pageReady), poll(`document.querySelector(".u-series[role=button]") !== null`))
		_ = eval[bool](t, b, `(document.querySelector('.chart[aria-label="Invocations"] .u-series[role=button]').focus(), true)`)
		b.do(t, "enter", chromedp.KeyEvent(kb.Enter),
			poll(`document.querySelector('.chart[aria-label="Invocations"] .u-series[role=button]').classList.contains("u-off")`))
		if got := eval[string](t, b, `(() => { const e = document.querySelector('.chart[aria-label="Invocations"] .u-series[role=button]');
			return e.getAttribute("aria-pressed") + " " + e.classList.contains("u-off"); })()`); got != "false true" {
			t.Errorf("after Enter on the legend entry: aria-pressed, hidden = %s", got)
		}
	})

	t.Run("cross-site POST refused", func(t *testing.T) {
		marker := fmt.Sprintf("csrf-%d", time.Now().UnixNano())
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<form id=f method=POST action="%sapi/aws" enctype="text/plain"><input name='{"service":"lambda","method":"POST","path":"/2015-03-31/functions/hello/invocations","body":"{\"marker\":\"%s\"}","x":"' value='"}'></form><script>document.getElementById("f").submit()</script>`, hostBase, marker)
		}))
		defer evil.Close()
		b.do(t, "attack", chromedp.Navigate(evil.URL), poll(`location.href.startsWith("`+hostBase+`")`), chromedp.WaitReady("body"))
		body := eval[string](t, b, `document.body.textContent`)
		if !strings.Contains(body, "SignInRequired") && !strings.Contains(body, "CSRFRefused") {
			t.Errorf("cross-site POST answered %.300q", body)
		}
		b.errors()
		if logsContain(t, n, marker) {
			t.Error("the cross-site POST invoked the function")
		}
	})

	t.Run("a limited user sees an access-denied panel", func(t *testing.T) {
		ic := awsiam.NewFromConfig(n.awsConfig())
		if _, err := ic.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("viewer")}); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("viewer"), PolicyName: aws.String("list"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}`)}); err != nil {
			t.Fatal(err)
		}
		k, err := ic.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("viewer")})
		if err != nil {
			t.Fatal(err)
		}
		b.do(t, "open", chromedp.Navigate(hostBase+"#/overview"), poll(pageReady))
		b.do(t, "sign out", chromedp.Click("#signout"), chromedp.WaitVisible("#signin"))
		b.do(t, "sign in", chromedp.SendKeys(`input[name=accessKeyId]`, aws.ToString(k.AccessKey.AccessKeyId)),
			chromedp.SendKeys(`input[name=secretAccessKey]`, aws.ToString(k.AccessKey.SecretAccessKey)),
			chromedp.Click(`#signin button[type=submit]`), poll(pageReady))
		if who := eval[string](t, b, `document.getElementById("who").textContent`); !strings.HasSuffix(who, ":user/viewer") {
			t.Fatalf("signed in as %q", who)
		}
		b.do(t, "functions", chromedp.Navigate(hostBase+"#/functions"), poll(pageReady))
		if txt := eval[string](t, b, `document.getElementById("page").textContent`); !strings.Contains(txt, "hello") {
			t.Errorf("the user's function list: %.200q", txt)
		}
		b.do(t, "logs", chromedp.Navigate(hostBase+"#/logs"), poll(pageReady))
		txt := eval[string](t, b, `document.querySelector("[data-denied]")?.textContent ?? ""`)
		if !strings.Contains(txt, "Access denied") || strings.Contains(eval[string](t, b, `document.getElementById("page").textContent`), "console-line") {
			t.Errorf("the user's logs page: %.300q", txt)
		}
		b.screenshot(t, shots, "denied")
		b.errors()
	})
}

// logsContain reports whether the function's log holds s.
func logsContain(t *testing.T, n *node, s string) bool {
	t.Helper()
	resp, err := n.httpClient("logs").Do(mustReq(t, n.endpoint(), `{"logGroupName":"/aws/lambda/hello","filterPattern":"\"`+s+`\""}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Events []struct{ Message string } }
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return len(out.Events) > 0
}

func mustReq(t *testing.T, endpoint, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequestWithContext(context.Background(), "POST", endpoint+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Amz-Target", "Logs_20140328.FilterLogEvents")
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	return r
}

// compareCharts asks GetMetricData for each chart's queries and period
// and returns a difference ("" when every chart holds exactly the API's
// points).
func compareCharts(t *testing.T, cw *cloudwatch.Client, charts []struct{ Series, Queries, Start, End string }) string {
	t.Helper()
	for _, c := range charts {
		var qs []struct {
			ID         string `json:"Id"`
			MetricStat struct {
				Metric struct {
					Namespace, MetricName string
					Dimensions            []struct{ Name, Value string }
				}
				Period int32
				Stat   string
			}
		}
		var series []struct {
			ID string    `json:"id"`
			T  []float64 `json:"t"`
			V  []float64 `json:"v"`
		}
		if err := json.Unmarshal([]byte(c.Queries), &qs); err != nil {
			t.Fatalf("queries %q: %v", c.Queries, err)
		}
		if err := json.Unmarshal([]byte(c.Series), &series); err != nil {
			t.Fatalf("series %q: %v", c.Series, err)
		}
		var start, end int64
		fmt.Sscan(c.Start, &start)
		fmt.Sscan(c.End, &end)
		in := &cloudwatch.GetMetricDataInput{StartTime: aws.Time(time.UnixMilli(start)), EndTime: aws.Time(time.UnixMilli(end)), ScanBy: cwt.ScanByTimestampAscending}
		for _, q := range qs {
			var dims []cwt.Dimension
			for _, d := range q.MetricStat.Metric.Dimensions {
				dims = append(dims, cwt.Dimension{Name: aws.String(d.Name), Value: aws.String(d.Value)})
			}
			in.MetricDataQueries = append(in.MetricDataQueries, cwt.MetricDataQuery{Id: aws.String(q.ID), MetricStat: &cwt.MetricStat{
				Metric: &cwt.Metric{Namespace: aws.String(q.MetricStat.Metric.Namespace), MetricName: aws.String(q.MetricStat.Metric.MetricName), Dimensions: dims},
				Period: aws.Int32(q.MetricStat.Period), Stat: aws.String(q.MetricStat.Stat)}})
		}
		out, err := cw.GetMetricData(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]int{}
		for i, s := range series {
			byID[s.ID] = i
		}
		for _, r := range out.MetricDataResults {
			i, ok := byID[aws.ToString(r.Id)]
			if !ok {
				return fmt.Sprintf("chart %s lacks series %s", c.Queries, aws.ToString(r.Id))
			}
			s := series[i]
			if len(s.V) != len(r.Values) || len(s.T) != len(r.Timestamps) {
				return fmt.Sprintf("series %s: page %v, API %v", aws.ToString(r.Id), s.V, r.Values)
			}
			for j := range r.Values {
				if math.Abs(s.V[j]-r.Values[j]) > 1e-9 || int64(s.T[j]) != r.Timestamps[j].Unix() {
					return fmt.Sprintf("series %s point %d: page %v@%v, API %v@%v", aws.ToString(r.Id), j, s.V[j], s.T[j], r.Values[j], r.Timestamps[j])
				}
			}
		}
	}
	return ""
}

// BenchmarkConsoleFirstGraph measures the console's first load on
// loopback in a real browser with an empty cache: the time from navigating
// to the live-graphs page until its first graph holds data, against a
// baseline in the same run (the browser fetching one static file, app.css),
// and the bytes the first load transfers (compressed bodies of the page
// and its files, the API calls' data excluded).
//
//	go test -run '^$' -bench BenchmarkConsoleFirstGraph -benchtime 10x ./internal/daemon
func BenchmarkConsoleFirstGraph(b *testing.B) {
	n := startNode(b, b.TempDir())
	ctx := context.Background()
	if _, err := n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("hello"), Runtime: lambdatypes.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &lambdatypes.FunctionCode{ZipFile: zipFiles(b, map[string]zipEntry{"app.py": {data: []byte(pyConsoleFunction)}})},
	}); err != nil {
		b.Fatal(err)
	}
	w := lambda.NewFunctionActiveV2Waiter(n.client)
	if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello")}, time.Minute); err != nil {
		b.Fatal(err)
	}
	if _, err := n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`{}`)}); err != nil {
		b.Fatal(err)
	}
	// The invocation's metric is in GetMetricData before the timing starts
	// (the page waits for a point; a metric still on its way is not the
	// console's time).
	cw := cloudwatch.NewFromConfig(n.awsConfig())
	for deadline := time.Now().Add(90 * time.Second); ; {
		out, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(time.Now().Add(-30 * time.Minute)), EndTime: aws.Time(time.Now()),
			MetricDataQueries: []cwt.MetricDataQuery{{Id: aws.String("i"), MetricStat: &cwt.MetricStat{Period: aws.Int32(60), Stat: aws.String("Sum"),
				Metric: &cwt.Metric{Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("Invocations"),
					Dimensions: []cwt.Dimension{{Name: aws.String("FunctionName"), Value: aws.String("hello")}}}}}}})
		if err == nil && len(out.MetricDataResults) == 1 && len(out.MetricDataResults[0].Values) > 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the invocation's metric never appeared: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling the API (bounded above)
	}
	br := newBrowser(b)
	_, port, _ := strings.Cut(n.d.Addr(), ":")
	hostBase := "http://console.localhost:" + port + "/"
	resp, err := n.httpClient("lambda").Post(n.endpoint()+"/_nimbus/console/api/link", "", http.NoBody)
	if err != nil {
		b.Fatal(err)
	}
	var l struct{ Path string }
	_ = json.NewDecoder(resp.Body).Decode(&l)
	resp.Body.Close()
	br.do(b, "sign in", chromedp.Navigate(hostBase+l.Path), poll(pageReady))
	clear := func() {
		if _, err := chromedp.Call(br.ctx, network.ClearBrowserCache, cdp.Empty{}); err != nil {
			b.Fatal(err)
		}
		br.do(b, "blank", chromedp.Navigate("about:blank"))
	}
	var graph, static time.Duration
	var bytes float64
	for b.Loop() {
		clear()
		t0 := time.Now()
		br.do(b, "static", chromedp.Navigate(hostBase+"app.css"))
		static += time.Since(t0)
		clear()
		t0 = time.Now()
		br.do(b, "graph", chromedp.Navigate(hostBase+"#/graphs/hello"),
			poll(`Number(document.querySelector('[aria-label="Invocations"]')?.dataset.points || 0) > 0 && document.querySelector(".chart canvas") !== null`))
		graph += time.Since(t0)
		bytes += eval[float64](b, br, `[performance.getEntriesByType("navigation")[0], ...performance.getEntriesByType("resource")]
			.filter(e => !e.name.includes("/api/")).reduce((n, e) => n + e.encodedBodySize, 0)`)
	}
	k := float64(b.N)
	b.ReportMetric(float64(graph.Milliseconds())/k, "first-graph-ms")
	b.ReportMetric(float64(static.Milliseconds())/k, "static-fetch-ms")
	b.ReportMetric(float64(graph)/float64(static), "graph/static")
	b.ReportMetric(bytes/k/1024, "first-load-KB-gz")
}
