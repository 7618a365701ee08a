// Package consoletest drives the console in a real, headless Chromium
// (Debian's /usr/bin/chromium, through chromedp) for browser tests: it
// starts the browser with a fresh profile, opens pages that record every
// console error, uncaught exception and Content-Security-Policy violation,
// and saves screenshots of what a test checked.
//
// Only tests import it. It fakes nothing: a test points it at a real
// recalld on a loopback port.
package consoletest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser;
// RECALL_CHROMIUM overrides it.
const ChromiumPath = "/usr/bin/chromium"

// Timeout bounds one page's work in a test (navigation, waits, actions).
const Timeout = 20 * time.Second

// Browser is one headless Chromium with a fresh profile, closed when the
// test ends.
type Browser struct {
	root context.Context
}

func chromiumPath() string {
	if p := os.Getenv("RECALL_CHROMIUM"); p != "" {
		return p
	}
	return ChromiumPath
}

// NewBrowser starts Chromium. Without Chromium the test fails, saying how
// to install it: browser tests are never skipped.
func NewBrowser(t testing.TB) *Browser {
	t.Helper()
	path := chromiumPath()
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("browser tests need Chromium at %s (%v): install it with `apt-get install chromium` (CI's .ci/run does), or set RECALL_CHROMIUM to another Chromium", path, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("lang", "en-US"), // the console picks its first language from the browser's
		chromedp.WindowSize(1366, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	// Start the browser now (no timeout on this first call: it would end
	// the browser), so a broken Chromium fails here, plainly.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(root) }()
	select {
	case err := <-started:
		if err != nil {
			cancelRoot()
			cancelAlloc()
			t.Fatalf("start Chromium %s: %v", path, err)
		}
	case <-time.After(Timeout):
		cancelRoot()
		cancelAlloc()
		t.Fatalf("Chromium %s did not start within %v", path, Timeout)
	}
	t.Cleanup(func() {
		cancelRoot()
		cancelAlloc()
	})
	return &Browser{root: root}
}

// Page is one browser tab. It records what went wrong on it.
type Page struct {
	t   testing.TB
	ctx context.Context

	mu       sync.Mutex
	problems []string
	dialogs  []string
	shots    int
	allowed  []string // paths whose failed requests the page handles itself
}

// AllowFailedRequests declares API paths (prefixes) whose 4xx answers the
// app expects and shows to the operator, so the browser's "failed to load
// resource" report for them is not a problem. A failed script or
// stylesheet still is.
func (p *Page) AllowFailedRequests(pathPrefixes ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.allowed = append(p.allowed, pathPrefixes...)
}

func (p *Page) allowedFailure(e *log.Entry) bool {
	if e.Source != log.EntrySourceNetwork {
		return false
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.allowed {
		if strings.HasPrefix(u.Path, a) {
			return true
		}
	}
	return false
}

// watchScript runs before any of a page's own scripts: it records CSP
// violations where the test can read them (window.__cspViolations).
const watchScript = `window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});`

// NewPage opens a tab. Console errors, uncaught exceptions, CSP
// violations and JavaScript dialogs (alert, confirm) are recorded.
func (b *Browser) NewPage(t testing.TB) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.root)
	t.Cleanup(cancel)
	p := &Page{t: t, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		// Runs on the tab's reading loop: record and return, never a command.
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				p.problem("console.%s: %s", e.Type, args(e.Args))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			p.problem("uncaught exception: %s (%s:%d)", msg, d.URL, d.LineNumber)
		case *log.EventEntryAdded:
			// The browser's own reports: CSP violations, failed loads, …
			if e.Entry.Level == log.EntryLevelError && !p.allowedFailure(e.Entry) {
				p.problem("browser %s error: %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		case *page.EventJavascriptDialogOpening:
			p.mu.Lock()
			p.dialogs = append(p.dialogs, string(e.Type)+": "+e.Message)
			p.mu.Unlock()
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	})
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	cctx, cancelCall := context.WithTimeout(ctx, Timeout)
	defer cancelCall()
	if _, err := chromedp.Call(cctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchScript}); err != nil {
		t.Fatalf("install the page watcher: %v", err)
	}
	return p
}

func args(as []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(as))
	for _, a := range as {
		switch {
		case a.Description != "":
			parts = append(parts, a.Description)
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

func (p *Page) problem(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.problems = append(p.problems, fmt.Sprintf(format, a...))
}

func (p *Page) run(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// Context is the tab's chromedp context, for actions a test runs itself.
func (p *Page) Context() context.Context { return p.ctx }

// Run runs chromedp actions on the tab in order, failing the test on an
// error (after a screenshot of the page as it was).
func (p *Page) Run(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := p.run(steps...); err != nil {
		p.Screenshot("failed")
		p.t.Fatalf("browser: %v", err)
	}
}

// Get runs one action that returns a value, failing the test on an error.
func Get[T any](p *Page, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.Screenshot("failed")
		p.t.Fatalf("browser: %v", err)
	}
	return v
}

// Eval evaluates a JavaScript expression (awaiting a promise it returns).
func Eval[T any](p *Page, js string) T {
	p.t.Helper()
	return Get(p, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// Open navigates to url and waits until sel is visible.
func (p *Page) Open(url, sel string) {
	p.t.Helper()
	p.Run(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// Text is the visible text of the first element sel matches, once visible.
func (p *Page) Text(sel string) string {
	p.t.Helper()
	p.Run(chromedp.WaitVisible(chromedp.CSS(sel)))
	return Get(p, chromedp.Text(chromedp.CSS(sel)))
}

// WaitText waits until the element sel holds text containing want.
func (p *Page) WaitText(sel, want string) {
	p.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.innerText.includes(%q); })()`, sel, want)
	if _, err := p.runPoll(js); err != nil {
		p.Screenshot("failed")
		got := Eval[string](p, fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || "(no such element)"`, sel))
		p.t.Fatalf("waiting for %q in %s: %v; it holds %q", want, sel, err, got)
	}
}

func (p *Page) runPoll(js string) (bool, error) {
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond)))
}

// Screenshot saves a PNG of the whole page under the test's artifact
// directory (kept with `go test -artifacts -outputdir DIR`) and logs
// where.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	dir := filepath.Join(artifactDir(p.t), "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.shots++
	n := p.shots
	p.mu.Unlock()
	path := filepath.Join(dir, fmt.Sprintf("%02d-%s.png", n, safeName.ReplaceAllString(name, "_")))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
	return path
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// DocShotsEnv names a directory (make screenshots sets it to docs/console)
// where DocScreenshot also writes the README's picture of a page.
const DocShotsEnv = "RECALL_CONSOLE_SHOTS"

// DocScreenshot is Screenshot, and when $RECALL_CONSOLE_SHOTS names a
// directory, also the documentation's picture of the page there, as
// name.png: the README's screenshots are what the browser tests saw.
func (p *Page) DocScreenshot(name string) string {
	p.t.Helper()
	path := p.Screenshot(name)
	dir := os.Getenv(DocShotsEnv)
	if dir == "" || path == "" {
		return path
	}
	png, err := os.ReadFile(path)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	doc := filepath.Join(dir, safeName.ReplaceAllString(name, "_")+".png")
	if err := os.WriteFile(doc, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("documentation screenshot: %s", doc)
	return path
}

func artifactDir(t testing.TB) string {
	if a, ok := t.(interface{ ArtifactDir() string }); ok {
		return a.ArtifactDir()
	}
	return t.TempDir()
}

// Dialogs lists the JavaScript dialogs (alert, confirm, prompt) the page
// opened: an injected script would show here.
func (p *Page) Dialogs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.dialogs...)
}

// Problems lists every console error, uncaught exception and CSP
// violation seen on the page so far.
func (p *Page) Problems() []string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	csp, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__cspViolations || []`))
	if err != nil {
		p.t.Errorf("read CSP violations: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]string(nil), p.problems...)
	for _, v := range csp {
		out = append(out, "CSP violation: "+v)
	}
	return out
}

// CheckClean fails the test for every problem the page recorded.
func (p *Page) CheckClean() {
	p.t.Helper()
	for _, pr := range p.Problems() {
		p.t.Errorf("page problem: %s", pr)
	}
	for _, d := range p.Dialogs() {
		p.t.Errorf("page opened a dialog: %s", d)
	}
}
