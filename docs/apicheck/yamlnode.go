package apicheck

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// readYAML parses the file at path and returns its root node, which must be
// a mapping.
func readYAML(path string) (*yaml.Node, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	root, err := parseYAML(b)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return root, nil
}

// parseYAML parses one YAML document whose root is a mapping.
func parseYAML(b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("root is not a mapping")
	}
	return doc.Content[0], nil
}

// mapGet returns the value of key in the mapping m, or nil if m is not a
// mapping or has no such key.
func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// mapPair is one key and value of a mapping.
type mapPair struct {
	Key   string
	Value *yaml.Node
}

// mapPairs returns the entries of the mapping m in document order; nil if m
// is not a mapping.
func mapPairs(m *yaml.Node) []mapPair {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]mapPair, 0, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		out = append(out, mapPair{m.Content[i].Value, m.Content[i+1]})
	}
	return out
}

// mapInsert adds key: v to m before the first of the keys in before that m
// has, or at the end. The caller ensures m has no key yet.
func mapInsert(m *yaml.Node, key string, v *yaml.Node, before ...string) {
	at := len(m.Content)
	for i := 0; i+1 < len(m.Content); i += 2 {
		for _, b := range before {
			if m.Content[i].Value == b && i < at {
				at = i
			}
		}
	}
	kv := []*yaml.Node{strNode(key), v}
	m.Content = append(m.Content[:at], append(kv, m.Content[at:]...)...)
}

// ensureMap returns the mapping under key in m, inserting an empty one
// (before the first of before that m has) when there is none.
func ensureMap(m *yaml.Node, key string, before ...string) (*yaml.Node, error) {
	if v := mapGet(m, key); v != nil {
		if v.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s is not a mapping", key)
		}
		return v, nil
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	mapInsert(m, key, v, before...)
	return v, nil
}

// children returns the entries of a sequence (nil for nil).
func children(n *yaml.Node) []*yaml.Node {
	if n == nil {
		return nil
	}
	return n.Content
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// clone returns a deep copy of n.
func clone(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = clone(child)
	}
	return &c
}

// walkMaps calls fn for every mapping entry under n, depth first.
func walkMaps(n *yaml.Node, fn func(m *yaml.Node, key string, value *yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			fn(n, n.Content[i].Value, n.Content[i+1])
		}
	}
	for _, c := range n.Content {
		walkMaps(c, fn)
	}
}

// isAnnotation reports whether key only explains: two components that
// differ in such keys alone describe the same thing.
func isAnnotation(key string) bool {
	switch key {
	case "description", "summary", "title", "example", "examples":
		return true
	}
	return false
}

// holdsNames reports whether the mapping under key has names chosen by the
// author as keys (a property may be called "description"), never
// annotations.
func holdsNames(key string) bool {
	switch key {
	case "properties", "patternProperties", "$defs":
		return true
	}
	return false
}

// sameNode reports whether a and b hold the same YAML value: scalars by
// resolved tag and value, mappings as unordered sets of entries, sequences
// in order; styles and comments do not count. With loose, annotation keys
// are ignored in every mapping except maps of names.
func sameNode(a, b *yaml.Node, loose bool) bool {
	return same(a, b, loose, false)
}

func same(a, b *yaml.Node, loose, names bool) bool {
	a, b = deref(a), deref(b)
	if a == nil || b == nil || a.Kind != b.Kind {
		return a == nil && b == nil
	}
	switch a.Kind {
	case yaml.ScalarNode:
		return a.ShortTag() == b.ShortTag() && a.Value == b.Value
	case yaml.MappingNode:
		am, bm := entries(a, loose && !names), entries(b, loose && !names)
		if len(am) != len(bm) {
			return false
		}
		for k, av := range am {
			bv, ok := bm[k]
			if !ok || !same(av, bv, loose, !names && holdsNames(k)) {
				return false
			}
		}
		return true
	default:
		if len(a.Content) != len(b.Content) {
			return false
		}
		for i := range a.Content {
			if !same(a.Content[i], b.Content[i], loose, false) {
				return false
			}
		}
		return true
	}
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) == 1 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	return n
}

// entries returns the mapping m as a Go map, without annotation keys when
// skipAnnotations is set.
func entries(m *yaml.Node, skipAnnotations bool) map[string]*yaml.Node {
	out := make(map[string]*yaml.Node, len(m.Content)/2)
	for _, p := range mapPairs(m) {
		if !skipAnnotations || !isAnnotation(p.Key) {
			out[p.Key] = p.Value
		}
	}
	return out
}
