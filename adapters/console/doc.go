// Package console serves Recall Ledger's admin and audit console, a
// single-page app written in TypeScript under web/ and built by Vite into
// assets/dist, at /console/ on recalld's address.
//
// The built files are embedded in the binary. A plain `go build` works
// without Node: when assets/dist holds no index.html (nothing was built),
// every page answers with a short page that says how to build the console
// (`make console`, or `make run`, which builds it first).
//
// The package serves files only; it holds no session, operator or API
// logic. The JSON routes under /console/api/ that the app calls are
// described in API.md and belong to the server side; until they are
// registered, this handler answers them with a JSON 404.
package console
