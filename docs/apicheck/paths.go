package apicheck

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// HTTPMethods are the operation keys of an OpenAPI path item.
func HTTPMethods() []string {
	return []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
}

// MountPath is the path under `gatehouse serve` of a function's path p:
// p prefixed with mount, and the function's root "/" as the mount itself.
func MountPath(mount, p string) string {
	if p == "/" {
		return mount
	}
	return mount + p
}

// addPaths adds the source's path items to paths under their mounted paths
// and completes their operations (tag, security, csrf).
func addPaths(paths *yaml.Node, s Source) error {
	security := mapGet(s.Doc, "security")
	for _, p := range mapPairs(mapGet(s.Doc, "paths")) {
		if !strings.HasPrefix(p.Key, "/") {
			return fmt.Errorf("path %q does not start with /", p.Key)
		}
		full := MountPath(s.Mount, p.Key)
		if mapGet(paths, full) != nil {
			return fmt.Errorf("path %s is already documented", full)
		}
		for _, m := range HTTPMethods() {
			if op := mapGet(p.Value, m); op != nil {
				completeOperation(op, m, s.Tag, security)
			}
		}
		mapInsert(paths, full, p.Value)
	}
	return nil
}

// completeOperation tags op, gives it the fragment's security when it has
// none, and adds csrf to its cookie requirements when method changes state.
func completeOperation(op *yaml.Node, method, tag string, security *yaml.Node) {
	tags := mapGet(op, "tags")
	if tags == nil {
		tags = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		mapInsert(op, "tags", tags, mapKeys(op)...)
	}
	if !hasScalar(tags, tag) {
		tags.Content = append([]*yaml.Node{strNode(tag)}, tags.Content...)
	}
	sec := mapGet(op, "security")
	if sec == nil && security != nil {
		sec = clone(security)
		mapInsert(op, "security", sec, "parameters", "requestBody", "responses")
	}
	if sec == nil || method == "get" || method == "head" || method == "options" || method == "trace" {
		return
	}
	for _, req := range sec.Content {
		if mapGet(req, "cookie") != nil && mapGet(req, "csrf") == nil {
			mapInsert(req, "csrf", &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle})
		}
	}
}

func mapKeys(m *yaml.Node) []string {
	var keys []string
	for _, p := range mapPairs(m) {
		keys = append(keys, p.Key)
	}
	return keys
}

func hasScalar(seq *yaml.Node, v string) bool {
	for _, n := range seq.Content {
		if n.Kind == yaml.ScalarNode && n.Value == v {
			return true
		}
	}
	return false
}
