package tfcheck

import (
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// moduleDecls is what one module directory declares.
type moduleDecls struct {
	vars     map[string]bool // name => has a default
	outputs  map[string]bool
	locals   map[string]bool
	declared map[string]bool // "google_x.name", "data.google_x.name", "module.name"
	calls    map[string]string
}

func declsOf(c *Config) map[string]*moduleDecls {
	out := map[string]*moduleDecls{}
	for _, b := range c.Blocks {
		d := out[b.Dir]
		if d == nil {
			d = &moduleDecls{vars: map[string]bool{}, outputs: map[string]bool{}, locals: map[string]bool{},
				declared: map[string]bool{}, calls: map[string]string{}}
			out[b.Dir] = d
		}
		switch b.Type {
		case "variable":
			_, hasDefault := b.Body.Attributes["default"]
			d.vars[b.label(0)] = hasDefault
		case "output":
			d.outputs[b.label(0)] = true
		case "locals":
			for n := range b.Body.Attributes {
				d.locals[n] = true
			}
		case "module":
			src, _ := literalString(b.Body, "source")
			d.calls[b.label(0)] = path.Join(b.Dir, src)
		}
		d.declared[b.Address()] = true
	}
	return out
}

// checkReferences is the offline part of `terraform validate`: every var,
// local, module output, resource and data reference resolves, and every
// module call passes exactly the called module's variables.
func checkReferences(c *Config) []Issue {
	decls := declsOf(c)
	var issues []Issue
	for _, b := range c.Blocks {
		d := decls[b.Dir]
		for _, tr := range traversals(b.Body) {
			if msg := resolve(decls, d, tr); msg != "" {
				issues = append(issues, issuef(b, "%s", msg))
			}
		}
		if b.Type == "module" {
			issues = append(issues, checkModuleArgs(decls, b)...)
		}
	}
	return issues
}

func resolve(decls map[string]*moduleDecls, d *moduleDecls, tr hcl.Traversal) string {
	root, name := tr.RootName(), stepName(tr, 1)
	switch {
	case root == "var" && !hasKey(d.vars, name):
		return "undeclared var." + name
	case root == "local" && !d.locals[name]:
		return "undeclared local." + name
	case root == "module" && !d.declared["module."+name]:
		return "undeclared module." + name
	case root == "module" && len(tr) > 2:
		if out := stepName(tr, 2); out != "" && !decls[d.calls[name]].hasOutput(out) {
			return "module." + name + " has no output " + out
		}
	case root == "data" && !d.declared["data."+name+"."+stepName(tr, 2)]:
		return "undeclared data." + name + "." + stepName(tr, 2)
	case strings.HasPrefix(root, "google_") && !d.declared[root+"."+name]:
		return "undeclared " + root + "." + name
	}
	return ""
}

func (d *moduleDecls) hasOutput(name string) bool { return d != nil && d.outputs[name] }

func hasKey(m map[string]bool, k string) bool {
	_, ok := m[k]
	return ok
}

func stepName(tr hcl.Traversal, i int) string {
	if i < len(tr) {
		if a, ok := tr[i].(hcl.TraverseAttr); ok {
			return a.Name
		}
	}
	return ""
}

// checkModuleArgs: a call passes only declared variables, and all the
// variables that have no default.
func checkModuleArgs(decls map[string]*moduleDecls, b *Block) []Issue {
	called := decls[decls[b.Dir].calls[b.label(0)]]
	if called == nil {
		return []Issue{issuef(b, "module source has no .tf files")}
	}
	meta := map[string]bool{"source": true, "version": true, "depends_on": true, "count": true, "for_each": true, "providers": true}
	var issues []Issue
	for n := range b.Body.Attributes {
		if !meta[n] && !hasKey(called.vars, n) {
			issues = append(issues, issuef(b, "passes %s, which the module does not declare", n))
		}
	}
	for _, n := range sortedDirs(called.vars) {
		if _, passed := b.Body.Attributes[n]; !called.vars[n] && !passed {
			issues = append(issues, issuef(b, "does not pass required variable %s", n))
		}
	}
	return issues
}

// traversals returns the references of every expression in body.
func traversals(body *hclsyntax.Body) []hcl.Traversal {
	var out []hcl.Traversal
	for _, a := range body.Attributes {
		out = append(out, a.Expr.Variables()...)
	}
	for _, b := range body.Blocks {
		out = append(out, traversals(b.Body)...)
	}
	return out
}
