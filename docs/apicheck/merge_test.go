package apicheck

import (
	"strings"
	"testing"
)

const testBase = `openapi: 3.1.0
info: {title: t, version: "1"}
tags:
  - {name: a, description: Function A.}
  - {name: b}
components:
  schemas:
    Error: {description: The error shape., type: object, properties: {code: {type: string, description: Stable.}}}
  securitySchemes:
    bearer: {type: http, scheme: bearer, description: Access token.}
    cookie: {type: apiKey, in: cookie, name: access}
    csrf: {type: apiKey, in: header, name: X-CSRF-Token}
`

// mergeCase merges fragments (File "<tag>.yaml", Mount "/<tag>" unless
// overridden, Prefix the tag upper-cased) into testBase.
type mergeCase struct {
	name   string
	frags  map[string]string // tag -> fragment
	mounts map[string]string // tag -> mount, where not "/<tag>"
	want   map[string]string // JSON pointer in the output -> expected YAML value
	gone   []string          // JSON pointers that must not resolve
	err    string            // expected error substring
}

func TestMerge(t *testing.T) {
	tests := []mergeCase{
		{name: "prefixes paths and tags operations",
			frags: map[string]string{"a": `openapi: 3.1.0
info: {title: A, description: About A.}
paths:
  /: {post: {operationId: root}}
  /x/{id}: {get: {operationId: x, tags: [extra]}}
`},
			want: map[string]string{
				"#/paths/~1a/post/tags":         "[a]",
				"#/paths/~1a~1x~1{id}/get/tags": "[a, extra]",
				"#/tags/0/description":          `"Function A.\n\n### A\n\nAbout A.\n"`,
			},
			gone: []string{"#/paths/~1"}},
		{name: "shares a component equal to the base's but for descriptions",
			frags: map[string]string{"a": `openapi: 3.1.0
paths:
  /e: {get: {responses: {"400": {content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}}}}
components:
  schemas:
    Error: {type: object, properties: {code: {type: string}}}
  securitySchemes:
    bearer: {type: http, scheme: bearer}
`},
			want: map[string]string{
				"#/paths/~1a~1e/get/responses/400/content/application~1json/schema/$ref": "'#/components/schemas/Error'",
				"#/components/schemas/Error/description":                                 "The error shape.",
			},
			gone: []string{"#/components/schemas/AError"}},
		{name: "a property named description is not an annotation",
			frags: map[string]string{"a": `openapi: 3.1.0
components:
  schemas:
    Error: {type: object, properties: {code: {type: string}, description: {type: string}}}
`},
			want: map[string]string{"#/components/schemas/AError/properties/description/type": "string"}},
		{name: "shares components identical in every fragment",
			frags: map[string]string{
				"a": "openapi: 3.1.0\ncomponents: {schemas: {Thing: {type: string}}}\n",
				"b": "openapi: 3.1.0\ncomponents: {schemas: {Thing: {type: string}}}\n"},
			want: map[string]string{"#/components/schemas/Thing": "{type: string}"},
			gone: []string{"#/components/schemas/AThing", "#/components/schemas/BThing"}},
		{name: "renames clashing components and their references",
			frags: map[string]string{
				"a": `openapi: 3.1.0
paths: {/p: {get: {responses: {"200": {$ref: "#/components/responses/Ok"}}}}}
components:
  responses: {Ok: {description: A.}}
`,
				"b": `openapi: 3.1.0
paths: {/q: {get: {responses: {"200": {$ref: "#/components/responses/Ok"}, "201": {$ref: "a.yaml#/components/responses/Ok"}}}}}
components:
  responses: {Ok: {description: B.}}
`},
			want: map[string]string{
				"#/paths/~1a~1p/get/responses/200/$ref": "'#/components/responses/AOk'",
				"#/paths/~1b~1q/get/responses/200/$ref": "'#/components/responses/BOk'",
				"#/paths/~1b~1q/get/responses/201/$ref": "'#/components/responses/AOk'",
				"#/components/responses/AOk":            "{description: A.}",
				"#/components/responses/BOk":            "{description: B.}",
			},
			gone: []string{"#/components/responses/Ok"}},
		{name: "fragment security moves onto operations and cookie needs csrf to change state",
			frags: map[string]string{"a": `openapi: 3.1.0
security: [{bearer: []}, {cookie: []}]
paths:
  /s:
    get: {}
    post: {}
    delete: {security: []}
    put: {security: [{cookie: [], csrf: []}]}
`},
			want: map[string]string{
				"#/paths/~1a~1s/get/security":    "[{bearer: []}, {cookie: []}]",
				"#/paths/~1a~1s/post/security":   "[{bearer: []}, {cookie: [], csrf: []}]",
				"#/paths/~1a~1s/delete/security": "[]",
				"#/paths/~1a~1s/put/security":    "[{cookie: [], csrf: []}]",
			}},
		{name: "duplicate path",
			frags: map[string]string{
				"a": "openapi: 3.1.0\npaths: {/x: {get: {}}}\n",
				"b": "openapi: 3.1.0\npaths: {/x: {get: {}}}\n"},
			mounts: map[string]string{"b": "/a"},
			err:    "path /a/x is already documented"},
		{name: "security scheme clash",
			frags: map[string]string{"a": "openapi: 3.1.0\ncomponents: {securitySchemes: {bearer: {type: apiKey, in: header, name: X}}}\n"},
			err:   "security scheme \"bearer\""},
		{name: "top-level key the merge would drop",
			frags: map[string]string{"a": "openapi: 3.1.0\nwebhooks: {}\n"},
			err:   "top-level \"webhooks\""},
		{name: "OpenAPI 3.0 fragment",
			frags: map[string]string{"a": "openapi: 3.0.3\n"},
			err:   "not 3.1.x"},
		{name: "unquoted comma in a flow mapping",
			frags: map[string]string{"a": "openapi: 3.1.0\npaths: {/x: {get: {description: One, two}}}\n"},
			err:   `"two" has no value`},
		{name: "tag not in the base",
			frags: map[string]string{"c": "openapi: 3.1.0\ninfo: {title: C, description: D}\n"},
			err:   `tag "c" is not declared`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runMergeCase(t, tt) })
	}
}

func runMergeCase(t *testing.T, tt mergeCase) {
	base, err := parseYAML([]byte(testBase))
	if err != nil {
		t.Fatal(err)
	}
	var srcs []Source
	for _, tag := range []string{"a", "b", "c"} {
		text, ok := tt.frags[tag]
		if !ok {
			continue
		}
		doc, err := parseYAML([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		mount, ok := tt.mounts[tag]
		if !ok {
			mount = "/" + tag
		}
		srcs = append(srcs, Source{Fragment{File: "openapi/" + tag + ".yaml", Mount: mount,
			Tag: tag, Prefix: strings.ToUpper(tag)}, doc})
	}
	out, err := Merge(base, srcs)
	if tt.err != "" {
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Fatalf("Merge error = %v, want one containing %q", err, tt.err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for ptr, want := range tt.want {
		w, err := parseYAML([]byte("v: " + want))
		if err != nil {
			t.Fatal(err)
		}
		if got := resolvePointer(out, ptr); !sameNode(got, mapGet(w, "v"), false) {
			b, _ := encode(out)
			t.Errorf("%s: got %v, want %s\n%s", ptr, got, want, b)
		}
	}
	for _, ptr := range tt.gone {
		if resolvePointer(out, ptr) != nil {
			t.Errorf("%s is in the output", ptr)
		}
	}
}
