// Package catalog lists every read model the server keeps, in one place,
// for recalld, its workers and `recallctl projections rebuild`: a new
// projection is served once it is listed here.
package catalog

import (
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/conversation"
	"github.com/recallledger/recall/projections/messageindex"
	"github.com/recallledger/recall/projections/recallhistory"
	"github.com/recallledger/recall/projections/recallreport"
)

// Projections returns every projection.
func Projections() []projections.Projection {
	return []projections.Projection{conversation.Projection{}, auditlog.Projection{}, recallreport.Projection{}, recallhistory.Projection{}, messageindex.Projection{}}
}

// Served returns every projection as a server runs them: the
// conversation view with a conversation.Live of its own, which the HTTP
// API's live streams follow.
func Served() []projections.Projection {
	ps := Projections()
	for i, p := range ps {
		if _, ok := p.(conversation.Projection); ok {
			ps[i] = conversation.Projection{Live: conversation.NewLive()}
		}
	}
	return ps
}

// Runners opens a runner for each projection over store, as a server
// runs them (Served).
func Runners(store projections.Store) ([]*projections.Runner, error) {
	var out []*projections.Runner
	for _, p := range Served() {
		r, err := projections.NewRunner(p, store)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
