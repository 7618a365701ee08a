// Package natsbustest is for tests only: a real NATS server with
// JetStream started inside the test process (the same server code as in
// production, nats-server's own RunServer pattern), and a JetStream
// context for the test's own looks at streams, consumers and buckets.
package natsbustest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// StartServer runs a NATS server with JetStream on a loopback port, its
// storage in the test's temporary directory, until the test ends; it
// returns the client URL.
func StartServer(t testing.TB) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

// JetStream connects to the server at url until the test ends.
func JetStream(t testing.TB, url string) nats.JetStreamContext {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	return js
}
