package apicheck

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// componentKinds are the sections of an OpenAPI 3.1 components object.
func componentKinds() []string {
	return []string{"schemas", "responses", "parameters", "examples", "requestBodies",
		"headers", "securitySchemes", "links", "callbacks", "pathItems"}
}

// sourcePlan says what happens to one source's components, keyed
// "kind/name": renamed to a new name, or dropped because an equal one is
// already in the merged document.
type sourcePlan struct {
	rename map[string]string
	drop   map[string]bool
}

// componentDef is one source's definition of a component.
type componentDef struct {
	src  int
	node *yaml.Node
}

// planComponents decides, for every component the sources define, whether
// it is shared or renamed (see [Merge]).
func planComponents(base *yaml.Node, srcs []Source) ([]sourcePlan, error) {
	plans := make([]sourcePlan, len(srcs))
	for i := range plans {
		plans[i] = sourcePlan{rename: map[string]string{}, drop: map[string]bool{}}
	}
	for _, kind := range componentKinds() {
		var order []string
		defs := map[string][]componentDef{}
		for i, s := range srcs {
			for _, p := range mapPairs(mapGet(mapGet(s.Doc, "components"), kind)) {
				if defs[p.Key] == nil {
					order = append(order, p.Key)
				}
				defs[p.Key] = append(defs[p.Key], componentDef{i, p.Value})
			}
		}
		for _, name := range order {
			err := planOne(plans, srcs, kind, name, mapGet(mapGet(base, kind), name), defs[name])
			if err != nil {
				return nil, err
			}
		}
	}
	return plans, nil
}

func planOne(plans []sourcePlan, srcs []Source, kind, name string, baseDef *yaml.Node, defs []componentDef) error {
	key := kind + "/" + name
	rename := func(d componentDef) error {
		if kind == "securitySchemes" {
			return fmt.Errorf("%s: security scheme %q differs from the base's or another fragment's; "+
				"security schemes are shared and cannot be renamed", srcs[d.src].File, name)
		}
		plans[d.src].rename[key] = srcs[d.src].Prefix + name
		return nil
	}
	for i, d := range defs {
		var err error
		switch {
		case baseDef != nil && sameNode(baseDef, d.node, true):
			plans[d.src].drop[key] = true
		case baseDef != nil:
			err = rename(d)
		case allSame(defs):
			plans[d.src].drop[key] = i > 0
		default:
			err = rename(d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func allSame(defs []componentDef) bool {
	for _, d := range defs[1:] {
		if !sameNode(defs[0].node, d.node, false) {
			return false
		}
	}
	return true
}

// renameRefs rewrites the component references under srcs[self].Doc to
// the merged document's names: local ones ("#/components/kind/name", or
// anything below it) and ones into a sibling fragment
// ("auth.yaml#/components/kind/name"), which become local. Other
// references are left for the checks to refuse.
func renameRefs(srcs []Source, plans []sourcePlan, self int) {
	walkMaps(srcs[self].Doc, func(_ *yaml.Node, key string, v *yaml.Node) {
		if key != "$ref" || v.Kind != yaml.ScalarNode {
			return
		}
		file, pointer, _ := strings.Cut(v.Value, "#")
		owner := self
		if file != "" {
			owner = sourceByFile(srcs, file)
		}
		rest, ok := strings.CutPrefix(pointer, "/components/")
		parts := strings.SplitN(rest, "/", 3)
		if owner < 0 || !ok || len(parts) < 2 {
			return
		}
		if n, ok := plans[owner].rename[parts[0]+"/"+parts[1]]; ok {
			parts[1] = n
		}
		v.Value = "#/components/" + strings.Join(parts, "/")
	})
}

// sourceByFile returns the index of the source whose file is the sibling
// named file ("auth.yaml" or "./auth.yaml"), or -1.
func sourceByFile(srcs []Source, file string) int {
	for i, s := range srcs {
		if path.Clean(file) == path.Base(s.File) {
			return i
		}
	}
	return -1
}

// addComponents copies the source's components that the plan keeps into
// comps, under their planned names.
func addComponents(comps, doc *yaml.Node, p sourcePlan) error {
	for _, section := range mapPairs(mapGet(doc, "components")) {
		if !slices.Contains(componentKinds(), section.Key) {
			return fmt.Errorf("unknown components section %q", section.Key)
		}
		dst, err := ensureMap(comps, section.Key)
		if err != nil {
			return fmt.Errorf("components: %w", err)
		}
		for _, c := range mapPairs(section.Value) {
			key := section.Key + "/" + c.Key
			if p.drop[key] {
				continue
			}
			name := c.Key
			if n, ok := p.rename[key]; ok {
				name = n
			}
			if mapGet(dst, name) != nil {
				return fmt.Errorf("component %s/%s is defined twice", section.Key, name)
			}
			mapInsert(dst, name, c.Value)
		}
	}
	return nil
}
