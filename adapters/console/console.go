package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is where the console lives on recalld's address.
const Prefix = "/console/"

// ContentSecurityPolicy is sent with every response of the console. It
// has no 'unsafe-inline' anywhere: the app ships its code and styles as
// files, sets styles through the CSSOM only, and draws charts on canvas.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Cache lifetimes: Vite names every file under assets/ after a hash of its
// content, so those never change; index.html names the current ones and is
// revalidated on every load.
const (
	cacheHashed = "public, max-age=31536000, immutable"
	cacheFresh  = "no-cache"
)

//go:embed all:assets
var embedded embed.FS

//go:embed placeholder.html
var placeholder []byte

// Handler serves the console: the built files, index.html for every
// client route, or the build-me page when nothing was built.
type Handler struct {
	files map[string]file // by path under the output directory
	built bool
}

// file is one built file, read once at start: the console is a few
// hundred kilobytes.
type file struct {
	data []byte
	etag string // strong: a hash of data
}

// New returns the handler over the console embedded in this binary.
func New() *Handler {
	dist, err := fs.Sub(embedded, "assets/dist")
	if err != nil { // fs.Sub fails only on an invalid name
		panic(err)
	}
	h, err := newHandler(dist)
	if err != nil {
		panic(fmt.Sprintf("console: embedded assets: %v", err))
	}
	return h
}

// newHandler serves files from fsys, its root being Vite's output
// directory (index.html, assets/...).
func newHandler(fsys fs.FS) (*Handler, error) {
	h := &Handler{files: map[string]file{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll // nothing built
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.files[p] = file{data: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	_, h.built = h.files["index.html"]
	return h, nil
}

// Built reports whether this binary carries a built console; when it does
// not, every page says how to build one.
func (h *Handler) Built() bool { return h.built }

// Register mounts the handler on mux at /console/ (and redirects
// /console there).
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle(Prefix, h)
	mux.Handle(strings.TrimSuffix(Prefix, "/"), http.RedirectHandler(Prefix, http.StatusMovedPermanently))
}

// ServeHTTP serves one request under /console/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")

	rel, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
		return
	}
	// The app's JSON API is the server side's (API.md); a route it has not
	// registered must not fall back to index.html, or a client would parse
	// a page as JSON.
	if rel == "api" || strings.HasPrefix(rel, "api/") {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "the console's pages are read with GET")
		return
	}
	if !h.built {
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(placeholder)
		return
	}
	name := path.Clean("/" + rel)[1:]
	if name == "" {
		name = "index.html"
	}
	if _, ok := h.files[name]; !ok {
		// A client route (/console/audit) gets the app, which routes
		// itself; a missing file (a stale hashed asset) gets a 404, never
		// a page in place of a script.
		if path.Ext(name) != "" {
			writeError(w, http.StatusNotFound, "not_found", "no such file")
			return
		}
		name = "index.html"
	}
	h.serveFile(w, r, name)
}

func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	f := h.files[name]
	cache := cacheFresh
	if strings.HasPrefix(name, "assets/") {
		cache = cacheHashed
	}
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("ETag", f.etag)
	// ServeContent sets Content-Type from the extension and answers
	// If-None-Match and Range.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}

// writeError answers in the API's error shape, {"error","message"}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
}
