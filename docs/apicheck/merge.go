// Package apicheck builds docs/openapi.yaml, the one OpenAPI 3.1
// description of Gatehouse's HTTP API, from the hand-written head
// docs/openapi/base.yaml and the per-function fragments docs/openapi/*.yaml.
// Its tests check that the committed file is what [Build] produces, that it
// is self-consistent, and that it documents exactly the routes the functions
// register.
//
// Regenerate with: go test ./docs/apicheck -run TestOpenAPIUpToDate -update
package apicheck

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// BaseFile (info, servers, tags, shared components) and OutputFile are
// paths under docs/.
const (
	BaseFile   = "openapi/base.yaml"
	OutputFile = "openapi.yaml"
)

// Fragment is one per-function OpenAPI 3.1 document. Its paths are relative
// to the function; the merge prefixes them with Mount.
type Fragment struct {
	File     string // path under docs/, e.g. "openapi/auth.yaml"
	Function string // the function's package directory, e.g. "functions/auth"
	Mount    string // prefix `gatehouse serve` mounts the function under, e.g. "/auth"
	Tag      string // the function's tag, declared in the base
	Prefix   string // prepended to the name of a component that clashes with another's
}

// Fragments returns the fragments in merge order.
func Fragments() []Fragment {
	return []Fragment{
		{"openapi/auth.yaml", "functions/auth", "/auth", "auth", "Auth"},
		{"openapi/auth-mfa-orgs.yaml", "functions/auth", "/auth", "auth", "AuthMFA"},
		{"openapi/admin.yaml", "functions/auth", "/auth", "auth", "Admin"},
		{"openapi/scim.yaml", "functions/auth", "/auth", "auth", "SCIM"},
		{"openapi/pages.yaml", "functions/auth", "/auth", "auth", "Pages"},
		{"openapi/oauth.yaml", "functions/oauthcallback", "/oauth", "oauth", "OAuth"},
		{"openapi/webhooks.yaml", "functions/webhooks", "/webhooks", "webhooks", "Webhooks"},
		{"openapi/rotate.yaml", "functions/rotate", "/rotate", "rotate", "Rotate"},
	}
}

// Source is a fragment and its parsed root mapping.
type Source struct {
	Fragment
	Doc *yaml.Node
}

// Build reads the base and the fragments under docsDir and returns the
// merged document as YAML. The output depends only on the input files.
func Build(docsDir string) ([]byte, error) {
	base, err := readYAML(filepath.Join(docsDir, BaseFile))
	if err != nil {
		return nil, err
	}
	var srcs []Source
	for _, f := range Fragments() {
		doc, err := readYAML(filepath.Join(docsDir, f.File))
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, Source{Fragment: f, Doc: doc})
	}
	merged, err := Merge(base, srcs)
	if err != nil {
		return nil, err
	}
	return encode(merged)
}

// Merge returns base with the sources' paths, components and descriptions
// added; it modifies the sources' nodes. Each path is prefixed with its
// source's Mount ("/" becomes the mount itself) and each operation is
// tagged with the source's Tag. A source's top-level security moves onto
// its operations that have none, and a state-changing operation that
// accepts the `cookie` scheme requires `csrf` with it. A component equal
// to the base's of the same name (ignoring descriptions and examples), or
// identical in every source defining it, is kept once; otherwise every
// source's version is renamed Prefix+Name and its references follow. A
// fragment may reference a sibling's component ("auth.yaml#/components/...");
// the reference becomes local. Merge fails on anything it would otherwise
// drop or clash.
func Merge(base *yaml.Node, srcs []Source) (*yaml.Node, error) {
	out := clone(base)
	if err := checkVersion(out); err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	if err := checkNoNulls(out); err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	paths, err := ensureMap(out, "paths", "components")
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	comps, err := ensureMap(out, "components")
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	for _, s := range srcs {
		if err := checkFragment(s.Doc); err != nil {
			return nil, fmt.Errorf("%s: %w", s.File, err)
		}
	}
	plan, err := planComponents(mapGet(base, "components"), srcs)
	if err != nil {
		return nil, err
	}
	for i := range srcs {
		renameRefs(srcs, plan, i)
	}
	for i, s := range srcs {
		if err := mergeSource(out, paths, comps, s, plan[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", s.File, err)
		}
	}
	return out, nil
}

func mergeSource(out, paths, comps *yaml.Node, s Source, p sourcePlan) error {
	if err := addComponents(comps, s.Doc, p); err != nil {
		return err
	}
	if err := addPaths(paths, s); err != nil {
		return err
	}
	return describeTag(out, s)
}

var versionRE = regexp.MustCompile(`^3\.1\.\d+$`)

func checkVersion(doc *yaml.Node) error {
	if v := mapGet(doc, "openapi"); v == nil || !versionRE.MatchString(v.Value) {
		return fmt.Errorf("openapi is not 3.1.x")
	}
	return nil
}

// checkFragment refuses what the merge would silently drop.
func checkFragment(doc *yaml.Node) error {
	if err := checkVersion(doc); err != nil {
		return err
	}
	if err := checkNoNulls(doc); err != nil {
		return err
	}
	for _, p := range mapPairs(doc) {
		switch p.Key {
		case "openapi", "info", "servers", "security", "paths", "components":
		default:
			return fmt.Errorf("top-level %q is not merged; move it into the base or the operations", p.Key)
		}
	}
	return nil
}

// checkNoNulls refuses a mapping entry without a value, which in these
// files is nearly always a comma in an unquoted description inside { }
// (`{ description: One, two }` has a key "two" with no value), except
// where null is a meaningful value.
func checkNoNulls(doc *yaml.Node) error {
	var err error
	walkMaps(doc, func(_ *yaml.Node, key string, v *yaml.Node) {
		if err == nil && v.ShortTag() == "!!null" && key != "default" && key != "const" && key != "example" {
			err = fmt.Errorf("line %d: %q has no value; quote the text before it if it holds a comma", v.Line, key)
		}
	})
	return err
}

// encode writes doc as YAML with a generated-file header.
func encode(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	d := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc},
		HeadComment: "Code generated by docs/apicheck from docs/openapi/*.yaml; DO NOT EDIT.\n" +
			"Regenerate: go test ./docs/apicheck -run TestOpenAPIUpToDate -update"}
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encode merged document: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode merged document: %w", err)
	}
	return buf.Bytes(), nil
}

// describeTag appends the source's title and description to its tag's.
func describeTag(out *yaml.Node, s Source) error {
	var tag *yaml.Node
	for _, t := range children(mapGet(out, "tags")) {
		if n := mapGet(t, "name"); n != nil && n.Value == s.Tag {
			tag = t
		}
	}
	if tag == nil {
		return fmt.Errorf("tag %q is not declared in the base", s.Tag)
	}
	info := mapGet(s.Doc, "info")
	title, desc := mapGet(info, "title"), mapGet(info, "description")
	if title == nil || desc == nil {
		return nil
	}
	d := mapGet(tag, "description")
	if d == nil {
		d = strNode("")
		mapInsert(tag, "description", d)
	}
	d.Value = strings.TrimRight(d.Value, "\n") + "\n\n### " + title.Value + "\n\n" +
		strings.TrimRight(desc.Value, "\n") + "\n"
	d.Style = yaml.LiteralStyle
	return nil
}
