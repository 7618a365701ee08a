package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
)

// The policy resource: read with its version as a strong ETag ("v7"),
// replaced by PUT, changed field by field by PATCH with a JSON merge patch
// (RFC 7396). Both honour If-Match (RFC 9110 §13.1.1): a version that is no
// longer current is 412 version_conflict; "*" or no If-Match is
// unconditional. The precondition is checked atomically with the append
// (ledger.ChangePolicy).

const mergePatchType = "application/merge-patch+json"

// policyBody is a policy as PUT sends it: the fields of the policy, and
// the read-only version a GET returned. A version that matches the
// current one is ignored; another is 412, as a stale If-Match would be.
type policyBody struct {
	domain.PolicySpec
	Version *int64 `json:"version"`
}

func etag(version int64) string { return `"v` + strconv.FormatInt(version, 10) + `"` }

func writePolicy(w http.ResponseWriter, p domain.Policy) {
	w.Header().Set("ETag", etag(p.Version))
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, c caller) {
	p, err := s.ledger.Policy(r.Context(), c.Tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
		// If-None-Match compares weakly: W/"v7" matches v7 too
		tags, err := parseETags(strings.Join(inm, ","))
		if err == nil && tags.matches(p.Version, true) {
			w.Header().Set("ETag", etag(p.Version))
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	writePolicy(w, p)
}

func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request, c caller) {
	match, ok := s.ifMatch(w, r)
	if !ok {
		return
	}
	var body policyBody
	if err := s.decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	s.changePolicy(w, r, c, ledger.PolicyChange{
		Match: func(cur int64) bool { return match(cur) && (body.Version == nil || *body.Version == cur) },
		Make:  func(domain.Policy) (domain.Policy, error) { return domain.NewPolicy(body.PolicySpec) },
	})
}

// patchPolicy applies a JSON merge patch to the current policy: members
// named replace the field, null resets it to its default, the rest stay.
// The policy is one flat object (lists are replaced whole, as RFC 7396
// replaces arrays), so the merge is member by member; an object where a
// field belongs is refused by the strict decode that follows.
func (s *Server) patchPolicy(w http.ResponseWriter, r *http.Request, c caller) {
	match, ok := s.ifMatch(w, r)
	if !ok {
		return
	}
	var patch map[string]json.RawMessage
	if err := s.decodeAs(w, r, &patch, bodyRules{mediaType: mergePatchType}); err != nil {
		s.fail(w, r, err)
		return
	}
	var version *int64
	if raw, ok := patch["version"]; ok {
		delete(patch, "version")
		if err := json.Unmarshal(raw, &version); err != nil {
			s.fail(w, r, &bodyError{http.StatusBadRequest, "invalid_body", "field \"version\": want a whole number"})
			return
		}
	}
	s.changePolicy(w, r, c, ledger.PolicyChange{
		Match: func(cur int64) bool { return match(cur) && (version == nil || *version == cur) },
		Make: func(cur domain.Policy) (domain.Policy, error) {
			doc := map[string]json.RawMessage{}
			raw, err := json.Marshal(cur)
			if err != nil {
				return domain.Policy{}, err
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				return domain.Policy{}, err
			}
			delete(doc, "version")
			for k, v := range patch {
				if string(v) == "null" {
					delete(doc, k)
				} else {
					doc[k] = v
				}
			}
			merged, err := json.Marshal(doc)
			if err != nil {
				return domain.Policy{}, err
			}
			var spec domain.PolicySpec
			if err := decodeObject(merged, &spec, false); err != nil {
				return domain.Policy{}, err
			}
			return domain.NewPolicy(spec)
		},
	})
}

func (s *Server) changePolicy(w http.ResponseWriter, r *http.Request, c caller, change ledger.PolicyChange) {
	change.ChangedBy = c.actor()
	p, err := s.ledger.ChangePolicy(r.Context(), c.Tenant, change)
	if err != nil {
		var stale *domain.VersionConflictError
		if errors.As(err, &stale) {
			w.Header().Set("ETag", etag(stale.Current))
			writeJSON(w, http.StatusPreconditionFailed, versionConflict{
				Error: "version_conflict", Message: stale.Error(), CurrentVersion: stale.Current,
			})
			return
		}
		s.fail(w, r, err)
		return
	}
	writePolicy(w, p)
}

// versionConflict is the 412 body: our error, with the version in force.
type versionConflict struct {
	Error          string `json:"error"`
	Message        string `json:"message"`
	CurrentVersion int64  `json:"current_version"`
}

// ifMatch reads If-Match into a precondition on the current version; a
// malformed header is answered with 400 and ok false.
func (s *Server) ifMatch(w http.ResponseWriter, r *http.Request) (match func(int64) bool, ok bool) {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return func(int64) bool { return true }, true
	}
	tags, err := parseETags(strings.Join(values, ","))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_if_match", "If-Match: "+err.Error()+`; want "*" or ETags such as "v7"`)
		return nil, false
	}
	return func(cur int64) bool { return tags.matches(cur, false) }, true
}

// etags is a parsed If-Match or If-None-Match: "*" or a list of tags.
type etags struct {
	any  bool
	tags []entityTag
}

type entityTag struct {
	weak  bool
	value string // without quotes
}

// matches reports whether the list names the policy at version: strong
// comparison for If-Match (a weak tag never matches), weak for
// If-None-Match.
func (e etags) matches(version int64, weak bool) bool {
	if e.any {
		return true
	}
	want := strings.Trim(etag(version), `"`)
	for _, t := range e.tags {
		if t.value == want && (weak || !t.weak) {
			return true
		}
	}
	return false
}

// parseETags reads `*` or a comma-separated list of entity tags
// (`"v7"`, `W/"v7"`), as RFC 9110 §8.8.3 writes them.
func parseETags(s string) (etags, error) {
	s = strings.TrimSpace(s)
	if s == "*" {
		return etags{any: true}, nil
	}
	var out etags
	for s != "" {
		var t entityTag
		if rest, ok := strings.CutPrefix(s, "W/"); ok {
			t.weak, s = true, rest
		}
		if len(s) < 2 || s[0] != '"' {
			return etags{}, errBadETag
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return etags{}, errBadETag
		}
		t.value, s = s[1:1+end], strings.TrimSpace(s[2+end:])
		out.tags = append(out.tags, t)
		if s == "" {
			break
		}
		if s[0] != ',' {
			return etags{}, errBadETag
		}
		s = strings.TrimSpace(s[1:])
	}
	if len(out.tags) == 0 {
		return etags{}, errBadETag
	}
	return out, nil
}

var errBadETag = &domain.InvalidError{Code: "invalid_if_match", Msg: "not a quoted entity tag"}
