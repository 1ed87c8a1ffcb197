package apicheck

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// errorSchemaRef is the shared error shape every JSON error response uses.
const errorSchemaRef = "#/components/schemas/Error"

// errorBodyExceptions are the operations that by design have no 4xx
// response in the shared error shape, and why.
func errorBodyExceptions() map[string]string {
	noInput := "takes no input: answers 200, or 503 in the error shape"
	redirect := "browser redirect: failures go back to the flow's return URL (302); " +
		"a state that cannot be trusted gets a text/plain 400 page"
	oauth := "an OAuth endpoint: errors have the RFC 6749 section 5.2 shape stock clients read"
	return map[string]string{
		"POST /auth/token/introspect":           oauth,
		"POST /auth/token/revoke":               oauth,
		"GET /auth/healthz":                     noInput,
		"GET /oauth/healthz":                    noInput,
		"GET /webhooks/healthz":                 noInput,
		"GET /rotate/healthz":                   noInput,
		"GET /auth/.well-known/jwks.json":       "public key set, " + noInput,
		"GET /oauth/callback/{platform}":        redirect,
		"GET /oauth/signin/{provider}/callback": redirect,
	}
}

// staticDocuments are operations that serve a fixed document built from
// the configuration: they take no input and have no error to document.
var staticDocuments = map[string]bool{
	"GET /auth/.well-known/openid-configuration":       true,
	"GET /auth/.well-known/oauth-authorization-server": true,
}

// usesErrorSchema reports whether the response (or the response it
// references) has an application/json body whose schema is the shared
// Error schema.
func usesErrorSchema(doc, resp *yaml.Node) bool {
	resp = follow(doc, resp)
	schema := mapGet(mapGet(mapGet(resp, "content"), "application/json"), "schema")
	ref := mapGet(schema, "$ref")
	if ref != nil && ref.Value == errorSchemaRef {
		return true
	}
	// SCIM routes answer RFC 7644's error body instead.
	ref = mapGet(mapGet(mapGet(mapGet(resp, "content"), "application/scim+json"), "schema"), "$ref")
	return ref != nil && ref.Value == scimErrorSchemaRef
}

const scimErrorSchemaRef = "#/components/schemas/ScimError"

// hasClientError reports whether op documents a 4xx (or 4XX) response in
// the shared error shape.
func hasClientError(doc, op *yaml.Node) bool {
	for _, r := range mapPairs(mapGet(op, "responses")) {
		if strings.HasPrefix(r.Key, "4") && usesErrorSchema(doc, r.Value) {
			return true
		}
	}
	return false
}

// hasErrorResponse reports whether op documents any 4xx or 5xx response.
func hasErrorResponse(op *yaml.Node) bool {
	for _, r := range mapPairs(mapGet(op, "responses")) {
		if strings.HasPrefix(r.Key, "4") || strings.HasPrefix(r.Key, "5") {
			return true
		}
	}
	return false
}

func TestEveryOperationDocumentsStructuredErrors(t *testing.T) {
	doc := loadSpec(t)
	exceptions := errorBodyExceptions()
	seen := map[string]bool{}
	for _, o := range operations(doc) {
		why, excepted := exceptions[o.String()]
		seen[o.String()] = excepted
		switch {
		case staticDocuments[o.String()]:
			if hasErrorResponse(o.Op) {
				t.Errorf("%s: a static document documents an error; drop it from staticDocuments", o)
			}
		case excepted && hasClientError(doc, o.Op):
			t.Errorf("%s: listed as an exception (%s) but documents a 4xx error body; drop the exception", o, why)
		case excepted && !hasErrorResponse(o.Op):
			t.Errorf("%s: exception (%s) but documents no error response at all", o, why)
		case !excepted && !hasClientError(doc, o.Op):
			t.Errorf("%s: no 4xx response with schema %s", o, errorSchemaRef)
		}
	}
	for op := range exceptions {
		if !seen[op] {
			t.Errorf("exception %s is not a documented operation", op)
		}
	}
}

func TestUsesErrorSchema(t *testing.T) {
	doc, err := parseYAML([]byte(`
components:
  schemas:
    Error: {type: object}
    Other: {type: object}
  responses:
    Bad: {description: x, content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
    Indirect: {$ref: "#/components/responses/Bad"}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, resp string
		want       bool
	}{
		{"inline", `{description: x, content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}`, true},
		{"referenced response", `{$ref: "#/components/responses/Bad"}`, true},
		{"chained reference", `{$ref: "#/components/responses/Indirect"}`, true},
		{"other schema", `{description: x, content: {application/json: {schema: {$ref: "#/components/schemas/Other"}}}}`, false},
		{"inline lookalike", `{description: x, content: {application/json: {schema: {type: object}}}}`, false},
		{"plain text", `{description: x, content: {text/plain: {schema: {type: string}}}}`, false},
		{"no body", `{description: x}`, false},
		{"dangling", `{$ref: "#/components/responses/Nope"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := parseYAML([]byte(tt.resp))
			if err != nil {
				t.Fatal(err)
			}
			if got := usesErrorSchema(doc, resp); got != tt.want {
				t.Errorf("usesErrorSchema = %v, want %v", got, tt.want)
			}
		})
	}
}
