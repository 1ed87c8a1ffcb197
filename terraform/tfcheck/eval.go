package tfcheck

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Scope evaluates the expressions of one module instance as Terraform
// would, offline: variables come from the caller (or their literal
// defaults), locals and the literal parts of resources are computed, and
// module outputs, which depend on what only a real apply knows, are
// stand-ins the caller supplies. An expression that needs anything else
// fails to evaluate; nothing is guessed.
type Scope struct {
	c         *Config
	dir       string
	vars      map[string]cty.Value
	modules   map[string]cty.Value
	locals    map[string]cty.Value
	resources map[string]map[string]cty.Value // type => name => value
}

// NewScope returns the scope of module dir. vars override the variables'
// defaults; modules maps a module call's name to an object of its outputs.
func (c *Config) NewScope(dir string, vars, modules map[string]cty.Value) *Scope {
	s := &Scope{c: c, dir: dir, vars: map[string]cty.Value{}, modules: maps.Clone(modules),
		locals: map[string]cty.Value{}, resources: map[string]map[string]cty.Value{}}
	if s.modules == nil {
		s.modules = map[string]cty.Value{}
	}
	for _, b := range c.Blocks {
		if b.Type != "variable" || b.Dir != dir {
			continue
		}
		if v, ok := literalValue(b.Body, "default"); ok {
			s.vars[b.label(0)] = v
		} else if a := attr(b.Body, "default"); a != nil {
			if v, diags := a.Expr.Value(nil); !diags.HasErrors() {
				s.vars[b.label(0)] = v // null default
			}
		}
	}
	maps.Copy(s.vars, vars)
	s.convertVars()
	s.settle()
	return s
}

// convertVars converts each variable to its declared type, as Terraform
// does (a tuple given for set(string) becomes a set). A value that does
// not convert is kept as given.
func (s *Scope) convertVars() {
	for _, b := range s.c.Blocks {
		if b.Type != "variable" || b.Dir != s.dir || b.Body.Attributes["type"] == nil {
			continue
		}
		v, ok := s.vars[b.label(0)]
		if !ok || v.IsNull() {
			continue
		}
		ty, diags := typeexpr.TypeConstraint(b.Body.Attributes["type"].Expr)
		if diags.HasErrors() {
			continue
		}
		if cv, err := convert.Convert(v, ty); err == nil {
			s.vars[b.label(0)] = cv
		}
	}
}

// Vars returns the variable values of the scope.
func (s *Scope) Vars() map[string]cty.Value { return maps.Clone(s.vars) }

// settle computes locals and resources in passes until a pass learns
// nothing new: each may depend on the others. Resources are recomputed in
// every pass, as more of their attributes may evaluate.
func (s *Scope) settle() {
	for {
		before := s.known()
		s.evalLocals()
		s.evalResources()
		if s.known() == before {
			return
		}
	}
}

// known measures what the scope holds: locals, resource instances and
// their attributes.
func (s *Scope) known() int {
	n := len(s.locals)
	for _, rs := range s.resources {
		for _, v := range rs {
			n += size(v)
		}
	}
	return n
}

func size(v cty.Value) int {
	if v.IsNull() || !v.CanIterateElements() {
		return 1
	}
	n := 1
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		n += size(e)
	}
	return n
}

func (s *Scope) evalLocals() {
	for _, b := range s.c.Blocks {
		if b.Type != "locals" || b.Dir != s.dir {
			continue
		}
		for name, a := range b.Body.Attributes {
			if _, done := s.locals[name]; done {
				continue
			}
			if v, err := s.Eval(a.Expr); err == nil {
				s.locals[name] = v
			}
		}
	}
}

func (s *Scope) evalResources() {
	for _, b := range s.c.Blocks {
		if b.Type != "resource" || b.Dir != s.dir {
			continue
		}
		typ, name := b.label(0), b.label(1)
		if v, ok := s.resourceValue(b); ok {
			if s.resources[typ] == nil {
				s.resources[typ] = map[string]cty.Value{}
			}
			s.resources[typ][name] = v
		}
	}
}

// resourceValue returns the resource's value: one object, a tuple of them
// (count) or an object of them by key (for_each). Each object holds the
// attributes that evaluate, plus the computed ones [computedAttrs] knows.
func (s *Scope) resourceValue(b *Block) (cty.Value, bool) {
	if a := b.Body.Attributes["count"]; a != nil {
		n, err := s.Eval(a.Expr)
		if err != nil || n.Type() != cty.Number {
			return cty.NilVal, false
		}
		count, _ := n.AsBigFloat().Int64()
		out := make([]cty.Value, 0, count)
		for i := range count {
			out = append(out, s.instance(b, map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(i)})}))
		}
		if len(out) == 0 {
			return cty.EmptyTupleVal, true
		}
		return cty.TupleVal(out), true
	}
	if a := b.Body.Attributes["for_each"]; a != nil {
		coll, err := s.Eval(a.Expr)
		if err != nil || !coll.CanIterateElements() {
			return cty.NilVal, false
		}
		out := map[string]cty.Value{}
		for it := coll.ElementIterator(); it.Next(); {
			k, v := it.Element()
			if coll.Type().IsSetType() {
				k = v
			}
			key, ok := asString(k)
			if !ok {
				return cty.NilVal, false
			}
			out[key] = s.instance(b, map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})})
		}
		return cty.ObjectVal(out), true
	}
	return s.instance(b, nil), true
}

func (s *Scope) instance(b *Block, extra map[string]cty.Value) cty.Value {
	attrs := map[string]cty.Value{}
	for name, a := range b.Body.Attributes {
		if v, err := s.evalWith(a.Expr, extra); err == nil {
			attrs[name] = v
		}
	}
	maps.Copy(attrs, computedAttrs(b.label(0), attrs, s.vars["project_id"]))
	return cty.ObjectVal(attrs)
}

// computedAttrs derives the computed attributes the checks need from the
// configured ones, as the provider documents them.
func computedAttrs(typ string, attrs map[string]cty.Value, project cty.Value) map[string]cty.Value {
	str := func(n string) string {
		v, _ := asString(attrs[n])
		return v
	}
	p, _ := asString(project)
	out := map[string]cty.Value{}
	switch {
	case typ == "google_service_account" && str("account_id") != "" && p != "":
		email := str("account_id") + "@" + p + ".iam.gserviceaccount.com"
		out["email"] = cty.StringVal(email)
		out["name"] = cty.StringVal("projects/" + p + "/serviceAccounts/" + email)
		out["id"] = out["name"]
	case typ == "google_secret_manager_secret" && str("secret_id") != "" && p != "":
		out["id"] = cty.StringVal("projects/" + p + "/secrets/" + str("secret_id"))
		out["name"] = out["id"]
	}
	return out
}

// Eval evaluates expr in the scope.
func (s *Scope) Eval(expr hclsyntax.Expression) (cty.Value, error) { return s.evalWith(expr, nil) }

func (s *Scope) evalWith(expr hclsyntax.Expression, extra map[string]cty.Value) (cty.Value, error) {
	vars := map[string]cty.Value{
		"var":    cty.ObjectVal(s.vars),
		"local":  cty.ObjectVal(s.locals),
		"module": cty.ObjectVal(s.modules),
	}
	for typ, rs := range s.resources {
		vars[typ] = cty.ObjectVal(rs)
	}
	maps.Copy(vars, extra)
	v, diags := expr.Value(&hcl.EvalContext{Variables: vars, Functions: functions()})
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("evaluate %s: %s", expr.Range(), diags.Error())
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, fmt.Errorf("evaluate %s: value not known", expr.Range())
	}
	return v, nil
}

// EvalAttr evaluates the attribute at path of b, which must be in the
// scope's module.
func (s *Scope) EvalAttr(b *Block, path ...string) (cty.Value, error) {
	a := attr(b.Body, path...)
	if a == nil {
		return cty.NilVal, fmt.Errorf("%s has no %s", b.Where(), strings.Join(path, "."))
	}
	return s.Eval(a.Expr)
}

// functions returns the Terraform functions the configuration uses.
func functions() map[string]function.Function {
	return map[string]function.Function{
		"base64encode": base64EncodeFunc,
		"ceil":         stdlib.CeilFunc,
		"coalesce":     coalesceFunc,
		"contains":     stdlib.ContainsFunc,
		"join":         stdlib.JoinFunc,
		"jsonencode":   stdlib.JSONEncodeFunc,
		"keys":         stdlib.KeysFunc,
		"length":       stdlib.LengthFunc,
		"lower":        stdlib.LowerFunc,
		"max":          stdlib.MaxFunc,
		"merge":        stdlib.MergeFunc,
		"min":          stdlib.MinFunc,
		"replace":      stdlib.ReplaceFunc,
		"sort":         stdlib.SortFunc,
		"tonumber":     stdlib.MakeToFunc(cty.Number),
		"toset":        stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring":     stdlib.MakeToFunc(cty.String),
		"trimsuffix":   stdlib.TrimSuffixFunc,
		"upper":        stdlib.UpperFunc,
	}
}

// coalesceFunc is Terraform's coalesce: the first argument that is
// neither null nor an empty string (cty's stdlib version returns "").
var coalesceFunc = function.New(&function.Spec{
	VarParam: &function.Parameter{Name: "vals", Type: cty.DynamicPseudoType, AllowNull: true},
	Type:     function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		for _, a := range args {
			if a.IsNull() || (a.Type() == cty.String && a.AsString() == "") {
				continue
			}
			return a, nil
		}
		return cty.NilVal, errors.New("no non-null, non-empty-string arguments")
	},
})

var base64EncodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(args[0].AsString()))), nil
	},
})

// StringMap converts an object or map of strings to a Go map.
func StringMap(v cty.Value) (map[string]string, error) {
	if v == cty.NilVal || v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return nil, fmt.Errorf("not a map of strings: %s", v.GoString())
	}
	out := map[string]string{}
	for k, e := range v.AsValueMap() {
		s, ok := asString(e)
		if !ok {
			return nil, fmt.Errorf("%s is not a string", k)
		}
		out[k] = s
	}
	return out, nil
}

// EnvironmentScope returns the scope of modules/gatehouse as environment
// env (dev, staging or prod) calls it: every argument of the call that is
// a literal, or a variable of the environment with a literal value in its
// terraform.tfvars or a literal default. overrides replace the
// environment's own variables (e.g. to configure optional platforms).
func (c *Config) EnvironmentScope(env string, overrides map[string]cty.Value, modules map[string]cty.Value) (*Scope, error) {
	dir := "environments/" + env
	call := moduleIn(c, dir, "gatehouse")
	if call == nil {
		return nil, fmt.Errorf("%s does not call modules/gatehouse", dir)
	}
	vars := c.tfvars(dir)
	maps.Copy(vars, overrides)
	root := c.NewScope(dir, vars, nil)
	args := map[string]cty.Value{}
	for _, name := range slices.Sorted(maps.Keys(call.Body.Attributes)) {
		if v, err := root.Eval(call.Body.Attributes[name].Expr); err == nil {
			args[name] = v
		}
	}
	src, _ := literalString(call.Body, "source")
	return c.NewScope(path.Join(dir, src), args, modules), nil
}

// tfvars returns the literal values of dir's terraform.tfvars.
func (c *Config) tfvars(dir string) map[string]cty.Value {
	out := map[string]cty.Value{}
	for name, a := range c.Vars[dir+"/terraform.tfvars"] {
		if v, ok := literal(a.Expr); ok {
			out[name] = v
		}
	}
	return out
}

// CallScope returns the scope of the module that call (a module block in
// s's module) calls, with the call's arguments that evaluate in s as its
// variables.
func (s *Scope) CallScope(call *Block, modules map[string]cty.Value) *Scope {
	args := map[string]cty.Value{}
	for name, a := range call.Body.Attributes {
		if v, err := s.Eval(a.Expr); err == nil {
			args[name] = v
		}
	}
	src, _ := literalString(call.Body, "source")
	return s.c.NewScope(path.Join(call.Dir, src), args, modules)
}
