package apicheck

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite docs/openapi.yaml from docs/openapi/*.yaml")

// docsDir is docs/, seen from this package's directory.
const docsDir = ".."

// TestOpenAPIUpToDate proves the committed docs/openapi.yaml is exactly what
// the fragments produce, so editing a fragment without regenerating fails.
func TestOpenAPIUpToDate(t *testing.T) {
	got, err := Build(docsDir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(docsDir, OutputFile)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		line := firstDiffLine(got, want)
		t.Fatalf("docs/openapi.yaml is stale (first difference at line %d); run: "+
			"go test ./docs/apicheck -run TestOpenAPIUpToDate -update", line)
	}
	again, err := Build(docsDir)
	if err != nil || !bytes.Equal(got, again) {
		t.Fatalf("Build is not deterministic (err %v)", err)
	}
}

func firstDiffLine(a, b []byte) int {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}

// loadSpec parses the committed docs/openapi.yaml.
func loadSpec(t *testing.T) *yaml.Node {
	t.Helper()
	doc, err := readYAML(filepath.Join(docsDir, OutputFile))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestOpenAPIVersion(t *testing.T) {
	if err := checkVersion(loadSpec(t)); err != nil {
		t.Fatal(err)
	}
}

// resolvePointer resolves a local reference ("#/components/schemas/Error")
// in doc; nil if it does not resolve.
func resolvePointer(doc *yaml.Node, ref string) *yaml.Node {
	p, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil
	}
	n := doc
	if p == "" {
		return n
	}
	if !strings.HasPrefix(p, "/") {
		return nil
	}
	for _, seg := range strings.Split(p[1:], "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch n.Kind {
		case yaml.MappingNode:
			n = mapGet(n, seg)
		case yaml.SequenceNode:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
		default:
			return nil
		}
		if n == nil {
			return nil
		}
	}
	return n
}

// follow follows $ref (possibly chained) to the object it names.
func follow(doc, n *yaml.Node) *yaml.Node {
	for range 10 {
		ref := mapGet(n, "$ref")
		if ref == nil {
			return n
		}
		n = resolvePointer(doc, ref.Value)
	}
	return nil
}

func TestRefsResolve(t *testing.T) {
	doc := loadSpec(t)
	count := 0
	walkMaps(doc, func(_ *yaml.Node, key string, v *yaml.Node) {
		if key != "$ref" {
			return
		}
		count++
		if v.Kind != yaml.ScalarNode || !strings.HasPrefix(v.Value, "#/") {
			t.Errorf("line %d: $ref %q is not a local reference", v.Line, v.Value)
		} else if resolvePointer(doc, v.Value) == nil {
			t.Errorf("line %d: $ref %q does not resolve", v.Line, v.Value)
		}
	})
	if count == 0 {
		t.Fatal("no $ref found: the walk is broken")
	}
}

// TestResolvePointer keeps the resolver honest: a checker that resolves
// everything proves nothing.
func TestResolvePointer(t *testing.T) {
	doc, err := parseYAML([]byte("a:\n  b/c: {x: 1}\n  l: [p, q]\n  t~: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ref string
		ok        bool
	}{
		{"mapping", "#/a", true},
		{"escaped slash", "#/a/b~1c/x", true},
		{"escaped tilde", "#/a/t~0", true},
		{"sequence index", "#/a/l/1", true},
		{"index out of range", "#/a/l/2", false},
		{"missing key", "#/a/nope", false},
		{"unescaped slash", "#/a/b/c", false},
		{"external", "other.yaml#/a", false},
		{"below a scalar", "#/a/t~0/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resolvePointer(doc, tt.ref) != nil; got != tt.ok {
				t.Errorf("resolvePointer(%q) resolved = %v, want %v", tt.ref, got, tt.ok)
			}
		})
	}
}

// operation is one documented operation.
type operation struct {
	Method, Path string // "POST", "/auth/login"
	Item, Op     *yaml.Node
}

func (o operation) String() string { return o.Method + " " + o.Path }

func operations(doc *yaml.Node) []operation {
	var ops []operation
	for _, p := range mapPairs(mapGet(doc, "paths")) {
		for _, m := range HTTPMethods() {
			if op := mapGet(p.Value, m); op != nil {
				ops = append(ops, operation{strings.ToUpper(m), p.Key, p.Value, op})
			}
		}
	}
	return ops
}

func TestOperationsWellFormed(t *testing.T) {
	doc := loadSpec(t)
	tags := map[string]bool{}
	for _, tag := range children(mapGet(doc, "tags")) {
		tags[mapGet(tag, "name").Value] = true
	}
	schemes := mapGet(mapGet(doc, "components"), "securitySchemes")
	ids := map[string]string{}
	for _, o := range operations(doc) {
		id := mapGet(o.Op, "operationId")
		switch {
		case id == nil:
			t.Errorf("%s: no operationId", o)
		case ids[id.Value] != "":
			t.Errorf("%s: operationId %q is also %s's", o, id.Value, ids[id.Value])
		default:
			ids[id.Value] = o.String()
		}
		if tg := mapGet(o.Op, "tags"); tg == nil || len(tg.Content) == 0 || !tags[tg.Content[0].Value] {
			t.Errorf("%s: first tag is not a declared function tag", o)
		}
		for _, req := range children(mapGet(o.Op, "security")) {
			for _, p := range mapPairs(req) {
				if mapGet(schemes, p.Key) == nil {
					t.Errorf("%s: security scheme %q is not declared", o, p.Key)
				}
			}
		}
		checkPathParams(t, doc, o)
	}
}

// checkPathParams checks that the {names} in o's path and its in: path
// parameters (path item's and operation's) are the same set.
func checkPathParams(t *testing.T, doc *yaml.Node, o operation) {
	t.Helper()
	declared := map[string]bool{}
	for _, list := range []*yaml.Node{mapGet(o.Item, "parameters"), mapGet(o.Op, "parameters")} {
		for _, p := range children(list) {
			p = follow(doc, p)
			if in := mapGet(p, "in"); in != nil && in.Value == "path" {
				declared[mapGet(p, "name").Value] = true
			}
		}
	}
	inPath := map[string]bool{}
	for _, seg := range strings.Split(o.Path, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			inPath[strings.TrimSuffix(name, "}")] = true
		}
	}
	for name := range inPath {
		if !declared[name] {
			t.Errorf("%s: path parameter %q is not declared", o, name)
		}
	}
	for name := range declared {
		if !inPath[name] {
			t.Errorf("%s: parameter %q is declared in: path but not in the path", o, name)
		}
	}
}
