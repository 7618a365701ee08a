package domain

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"github.com/recallledger/recall/domain/codec"
)

// PolicyFieldChange is one field a policy change changed, with its values
// before and after as JSON (as the policy's JSON carries them).
type PolicyFieldChange struct {
	Field string           `json:"field"`
	Old   codec.RawMessage `json:"old"`
	New   codec.RawMessage `json:"new"`
}

// String is "field: old → new".
func (c PolicyFieldChange) String() string {
	return c.Field + ": " + string(c.Old) + " → " + string(c.New)
}

// PolicyChanges lists the fields that differ from old to new, in the
// order of the policy's JSON; version is not a field a change sets. Every
// field of Policy is compared, so one added later is covered too.
func PolicyChanges(old, new Policy) []PolicyFieldChange {
	out := []PolicyFieldChange{}
	ov, nv := reflect.ValueOf(old), reflect.ValueOf(new)
	for i, f := range reflect.VisibleFields(ov.Type()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || name == "version" || !f.IsExported() {
			continue
		}
		a, errA := codec.Marshal(ov.Field(i).Interface())
		b, errB := codec.Marshal(nv.Field(i).Interface())
		if errA != nil || errB != nil {
			// a policy is plain numbers, booleans and lists of strings
			panic(fmt.Sprintf("policy field %s does not encode: %v %v", name, errA, errB))
		}
		if !bytes.Equal(a, b) {
			out = append(out, PolicyFieldChange{Field: name, Old: a, New: b})
		}
	}
	return out
}

// VersionConflictError is a change made against a version of the policy
// that is no longer the current one (HTTP 412, code version_conflict).
type VersionConflictError struct {
	Current int64
}

func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("the policy is at version %d (ETag \"v%d\") now: read it again and make the change against that version", e.Current, e.Current)
}
