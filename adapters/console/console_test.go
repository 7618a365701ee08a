package console

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// built is a Vite output as the handler sees it.
var built = fstest.MapFS{
	"index.html":              {Data: []byte(`<!doctype html><div id="app"></div><script type="module" src="/console/assets/index-abc123.js"></script>`)},
	"assets/index-abc123.js":  {Data: []byte(`console.log("app")`)},
	"assets/index-abc123.css": {Data: []byte(`body{}`)},
	"favicon.svg":             {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
}

func serve(t *testing.T, h *Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	h.Register(mux)
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func mustHandler(t *testing.T, fsys fstest.MapFS) *Handler {
	t.Helper()
	h, err := newHandler(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestConsoleServesFilesAndTheAppForClientRoutes(t *testing.T) {
	h := mustHandler(t, built)
	if !h.Built() {
		t.Fatal("Built() = false with an index.html")
	}
	for _, tc := range []struct {
		name, target string
		status       int
		bodyHas      string
		contentType  string
		cache        string
	}{
		{"the root is the app", "/console/", 200, `id="app"`, "text/html", cacheFresh},
		{"index.html itself", "/console/index.html", 200, `id="app"`, "text/html", cacheFresh},
		{"a client route falls back to the app", "/console/audit", 200, `id="app"`, "text/html", cacheFresh},
		{"a nested client route falls back to the app", "/console/recalls/m-1", 200, `id="app"`, "text/html", cacheFresh},
		{"a hashed script is cached for good", "/console/assets/index-abc123.js", 200, `console.log`, "text/javascript", cacheHashed},
		{"a hashed stylesheet is cached for good", "/console/assets/index-abc123.css", 200, `body{}`, "text/css", cacheHashed},
		{"an unhashed file is revalidated", "/console/favicon.svg", 200, `<svg`, "image/svg+xml", cacheFresh},
		{"a missing asset is a 404, never the app", "/console/assets/index-old.js", 404, `"not_found"`, "application/json", "no-store"},
		{"a missing file with an extension is a 404", "/console/robots.txt", 404, `"not_found"`, "application/json", "no-store"},
		{"an unregistered API route is JSON, not the app", "/console/api/session", 404, `"not_found"`, "application/json", "no-store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, h, "GET", tc.target, nil)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tc.status, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tc.bodyHas) {
				t.Errorf("body %q lacks %q", rec.Body, tc.bodyHas)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %s", ct, tc.contentType)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != tc.cache {
				t.Errorf("Cache-Control %q, want %q", cc, tc.cache)
			}
		})
	}
}

func TestConsoleNeverServesOutsideItsFiles(t *testing.T) {
	// Called without a mux, which would clean the path first.
	h := mustHandler(t, built)
	for _, target := range []string{"/console/x/../../../go.mod", "/console/..%2f..%2fgo.mod", "/console/assets/../../console.go"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code == http.StatusOK && !strings.Contains(rec.Body.String(), `id="app"`) {
			t.Errorf("%s served %q", target, rec.Body)
		}
	}
}

func TestConsoleSendsStrictSecurityHeadersOnEveryResponse(t *testing.T) {
	for name, h := range map[string]*Handler{"built": mustHandler(t, built), "not built": mustHandler(t, fstest.MapFS{})} {
		for _, target := range []string{"/console/", "/console/overview", "/console/assets/index-abc123.js", "/console/api/login", "/console/nope.png"} {
			rec := serve(t, h, "GET", target, nil)
			csp := rec.Header().Get("Content-Security-Policy")
			if csp != ContentSecurityPolicy {
				t.Errorf("%s %s: CSP %q", name, target, csp)
			}
			for _, want := range []string{"script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
				"frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
				if !strings.Contains(csp, want+";") && !strings.HasSuffix(csp, want) {
					t.Errorf("%s %s: CSP lacks %s", name, target, want)
				}
			}
			if strings.Contains(csp, "unsafe") {
				t.Errorf("%s %s: CSP allows something unsafe: %s", name, target, csp)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s %s: X-Content-Type-Options %q", name, target, got)
			}
			if got := rec.Header().Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("%s %s: Referrer-Policy %q", name, target, got)
			}
		}
	}
}

func TestConsoleRevalidatesWithETags(t *testing.T) {
	h := mustHandler(t, built)
	first := serve(t, h, "GET", "/console/", nil)
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on index.html")
	}
	again := serve(t, h, "GET", "/console/overview", map[string]string{"If-None-Match": etag})
	if again.Code != http.StatusNotModified {
		t.Fatalf("revalidation: status %d, want 304", again.Code)
	}
	if other := serve(t, h, "GET", "/console/assets/index-abc123.js", nil).Header().Get("ETag"); other == etag {
		t.Error("two different files share an ETag")
	}
}

func TestConsoleWithoutABuildSaysHowToBuildIt(t *testing.T) {
	h := mustHandler(t, fstest.MapFS{})
	if h.Built() {
		t.Fatal("Built() = true with nothing built")
	}
	for _, target := range []string{"/console/", "/console/audit", "/console/assets/index-abc123.js"} {
		rec := serve(t, h, "GET", target, nil)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503", target, rec.Code)
		}
		body := rec.Body.String()
		for _, want := range []string{"make console", "make run"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page does not mention %q", target, want)
			}
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "<style") || strings.Contains(body, "style=") {
			t.Errorf("%s: the placeholder needs an inline script or style, which the CSP blocks", target)
		}
	}
}

func TestConsoleRefusesWritesAndRedirectsTheBarePath(t *testing.T) {
	h := mustHandler(t, built)
	rec := serve(t, h, "POST", "/console/overview", nil)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST a page: status %d Allow %q, want 405 with GET, HEAD", rec.Code, rec.Header().Get("Allow"))
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != "method_not_allowed" || body["message"] == "" {
		t.Errorf("405 body %q is not the API's error shape", rec.Body)
	}
	if rec := serve(t, h, "POST", "/console/api/login", nil); rec.Code != http.StatusNotFound {
		t.Errorf("POST an unregistered API route: status %d, want 404", rec.Code)
	}
	rec = serve(t, h, "GET", "/console", nil)
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/console/" {
		t.Errorf("GET /console: status %d Location %q, want 301 to /console/", rec.Code, rec.Header().Get("Location"))
	}
}

func TestEmbeddedConsoleLoads(t *testing.T) {
	h := New()
	// Whether the tree holds a build or not, the embedded handler serves
	// something sensible at the root.
	rec := serve(t, h, "GET", "/console/", nil)
	want := http.StatusServiceUnavailable
	if h.Built() {
		want = http.StatusOK
	}
	if rec.Code != want {
		t.Fatalf("GET /console/: status %d, want %d (built=%v)", rec.Code, want, h.Built())
	}
}

// TestWebSourceWritesNoHTML holds the app to rendering text: none of the
// DOM's ways of parsing a string as markup appear in its source.
func TestWebSourceWritesNoHTML(t *testing.T) {
	banned := []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "dangerouslySetInnerHTML", "document.write", "createContextualFragment", "DOMParser", "eval(", "new Function"}
	n := 0
	err := filepath.WalkDir("web/src", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for _, bad := range banned {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %s", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("read %d files under web/src: is the source there?", n)
	}
}
