package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// debugServer listens on addr for pprof, which must be a loopback
// address: the profiles reveal internals and are for the operator on the
// machine. The caller serves it on the listener and closes both.
func debugServer(addr string, log *slog.Logger) (*http.Server, net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--debug-addr: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, nil, fmt.Errorf("--debug-addr %s: only a loopback address is allowed", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := listen(addr, "--debug-addr")
	if err != nil {
		return nil, nil, err
	}
	log.Info("pprof", slog.String("addr", "http://"+ln.Addr().String()+"/debug/pprof/"))
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln, nil
}
