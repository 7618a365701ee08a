package httpapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/recallledger/recall/domain"
)

// The policy's JSON is what GET …/policy serves and PUT takes: every field
// of domain.Policy and domain.PolicySpec is documented in openapi.json.
func TestOpenAPIDocumentsEveryPolicyField(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{"Policy": domain.Policy{}, "PolicySpec": domain.PolicySpec{}} {
		var schema struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(doc.Components.Schemas[name], &schema); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			if _, ok := schema.Properties[tag]; !ok {
				t.Errorf("%s.%s (%q) is not in openapi.json's %s schema", typ.Name(), typ.Field(i).Name, tag, name)
			}
		}
	}
}
