package tfcheck

import (
	"math/big"
	"slices"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// literal evaluates expr without any context: it succeeds only for
// constants (strings, numbers, bools, lists and objects of them).
func literal(expr hclsyntax.Expression) (cty.Value, bool) {
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}

func asString(v cty.Value) (string, bool) {
	if v == cty.NilVal || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// children returns the nested blocks of type typ in body, including the
// content of `dynamic "typ"` blocks.
func children(body *hclsyntax.Body, typ string) []*hclsyntax.Body {
	if body == nil {
		return nil
	}
	var out []*hclsyntax.Body
	for _, b := range body.Blocks {
		switch {
		case b.Type == typ:
			out = append(out, b.Body)
		case b.Type == "dynamic" && len(b.Labels) == 1 && b.Labels[0] == typ:
			out = append(out, children(b.Body, "content")...)
		}
	}
	return out
}

// nested follows a path of block types and returns every body at its end.
func nested(body *hclsyntax.Body, blocks ...string) []*hclsyntax.Body {
	cur := []*hclsyntax.Body{body}
	for _, typ := range blocks {
		var next []*hclsyntax.Body
		for _, b := range cur {
			next = append(next, children(b, typ)...)
		}
		cur = next
	}
	return cur
}

// attr returns the attribute at path (block types, then the attribute
// name), from the first block along the path that has it.
func attr(body *hclsyntax.Body, path ...string) *hclsyntax.Attribute {
	name := path[len(path)-1]
	for _, b := range nested(body, path[:len(path)-1]...) {
		if a, ok := b.Attributes[name]; ok {
			return a
		}
	}
	return nil
}

func literalValue(body *hclsyntax.Body, path ...string) (cty.Value, bool) {
	a := attr(body, path...)
	if a == nil {
		return cty.NilVal, false
	}
	return literal(a.Expr)
}

func literalString(body *hclsyntax.Body, path ...string) (string, bool) {
	v, ok := literalValue(body, path...)
	if !ok {
		return "", false
	}
	return asString(v)
}

// literalBool reports whether the attribute at path is the literal want.
func literalBool(body *hclsyntax.Body, want bool, path ...string) bool {
	v, ok := literalValue(body, path...)
	return ok && v.Type() == cty.Bool && v.True() == want
}

// literalList returns the attribute at path as a literal list of strings.
func literalList(body *hclsyntax.Body, path ...string) ([]string, bool) {
	v, ok := literalValue(body, path...)
	if !ok || !(v.Type().IsTupleType() || v.Type().IsListType() || v.Type().IsSetType()) {
		return nil, false
	}
	var out []string
	for _, e := range v.AsValueSlice() {
		s, ok := asString(e)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// literalListHas reports whether the attribute at path is a literal list
// containing want.
func literalListHas(body *hclsyntax.Body, want string, path ...string) bool {
	l, _ := literalList(body, path...)
	return slices.Contains(l, want)
}

// literalInt returns the attribute at path as a literal integer.
func literalInt(body *hclsyntax.Body, path ...string) (int64, bool) {
	v, ok := literalValue(body, path...)
	if !ok {
		return 0, false
	}
	return cty2int(v)
}

func cty2int(v cty.Value) (int64, bool) {
	if v.Type() != cty.Number {
		return 0, false
	}
	i, acc := v.AsBigFloat().Int64()
	return i, acc == big.Exact
}

// refNames returns the distinct names that expr references under root:
// "google_service_account" for google_service_account.auth.email gives
// "auth"; "module" for module.kms.key_id gives "kms".
func refNames(expr hclsyntax.Expression, root string) []string {
	if expr == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, tr := range expr.Variables() {
		if tr.RootName() != root || len(tr) < 2 {
			continue
		}
		if a, ok := tr[1].(hcl.TraverseAttr); ok {
			seen[a.Name] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// attrRefs is refNames for the attribute at path, or nil when it is absent.
func attrRefs(body *hclsyntax.Body, root string, path ...string) []string {
	a := attr(body, path...)
	if a == nil {
		return nil
	}
	return refNames(a.Expr, root)
}

// preventDestroy reports whether the block has lifecycle { prevent_destroy = true }.
func preventDestroy(body *hclsyntax.Body) bool {
	return literalBool(body, true, "lifecycle", "prevent_destroy")
}
