// Package tfcheck checks Gatehouse's Terraform against the INFRA controls
// without a provider, a plan or a network: it parses every .tf and .tfvars
// file with hclsyntax and inspects the blocks, literal values and references.
//
// The checks are deliberately strict about form: a security setting must be
// a literal in the resource (ipv4_enabled = false), not a variable, so that
// the property holds for every environment and can be read from the source.
package tfcheck

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Block is one top-level block of a file (resource, module, variable, ...).
type Block struct {
	Type   string
	Labels []string
	Body   *hclsyntax.Body
	Dir    string // module directory relative to the root, slash-separated
	File   string // file relative to the root, slash-separated
	Range  hcl.Range
}

// Where names the block for a finding: "modules/kms/main.tf:12 google_kms_crypto_key.kek".
func (b *Block) Where() string {
	return fmt.Sprintf("%s:%d %s", b.File, b.Range.Start.Line, b.Address())
}

// Address is the Terraform address of the block within its module, e.g.
// "google_kms_crypto_key.kek", "module.auth" or "var.env".
func (b *Block) Address() string {
	switch b.Type {
	case "resource":
		return strings.Join(b.Labels, ".")
	case "data":
		return "data." + strings.Join(b.Labels, ".")
	case "module":
		return "module." + b.label(0)
	case "variable":
		return "var." + b.label(0)
	}
	return b.Type
}

func (b *Block) label(i int) string {
	if i < len(b.Labels) {
		return b.Labels[i]
	}
	return ""
}

// Config is every parsed file under one root directory.
type Config struct {
	Blocks []*Block
	// Vars holds the top-level attributes of .tfvars files, by file.
	Vars     map[string]hclsyntax.Attributes
	files    map[string][]byte // relative path => source
	literals []Literal         // every quoted literal, in file order
}

// Load parses every .tf and .tfvars file under root, skipping .terraform
// directories. A syntax error in any file is an error. Files are read
// through an [os.Root], so nothing outside root is opened.
func Load(root string) (*Config, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open terraform root %s: %w", root, err)
	}
	defer r.Close()
	c := &Config{Vars: map[string]hclsyntax.Attributes{}, files: map[string][]byte{}}
	fsys := r.FS()
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".terraform" {
			return fs.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".tf") || strings.HasSuffix(p, ".tfvars")) {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		return c.parseFile(p, src)
	})
	if err != nil {
		return nil, fmt.Errorf("load terraform under %s: %w", root, err)
	}
	sort.SliceStable(c.Blocks, func(i, j int) bool { return c.Blocks[i].File < c.Blocks[j].File })
	c.literals = c.lexLiterals()
	return c, nil
}

// parseFile parses one file; rel is its slash-separated path under the root.
func (c *Config) parseFile(rel string, src []byte) error {
	f, diags := hclsyntax.ParseConfig(src, rel, hcl.InitialPos)
	if diags.HasErrors() {
		return fmt.Errorf("parse %s: %w", rel, diags)
	}
	c.files[rel] = src
	body := f.Body.(*hclsyntax.Body)
	if strings.HasSuffix(rel, ".tfvars") {
		c.Vars[rel] = body.Attributes
		return nil
	}
	for _, b := range body.Blocks {
		c.Blocks = append(c.Blocks, &Block{
			Type: b.Type, Labels: b.Labels, Body: b.Body,
			Dir: path.Dir(rel), File: rel, Range: b.Range(),
		})
	}
	return nil
}

// Resources returns the resource blocks of type typ, in every module.
func (c *Config) Resources(typ string) []*Block { return c.find("resource", typ) }

// DataSources returns the data blocks of type typ.
func (c *Config) DataSources(typ string) []*Block { return c.find("data", typ) }

func (c *Config) find(kind, typ string) []*Block {
	var out []*Block
	for _, b := range c.Blocks {
		if b.Type == kind && b.label(0) == typ {
			out = append(out, b)
		}
	}
	return out
}

// ModuleCalls returns the module blocks whose source ends in "/"+name.
func (c *Config) ModuleCalls(name string) []*Block {
	var out []*Block
	for _, b := range c.Blocks {
		if b.Type != "module" {
			continue
		}
		if src, ok := literalString(b.Body, "source"); ok && strings.HasSuffix(src, "/"+name) {
			out = append(out, b)
		}
	}
	return out
}

// Source returns the text of rng, for checks on the form of an expression.
func (c *Config) Source(rng hcl.Range) string {
	src := c.files[rng.Filename]
	if rng.End.Byte > len(src) || rng.Start.Byte > rng.End.Byte {
		return ""
	}
	return string(src[rng.Start.Byte:rng.End.Byte])
}

// Literal is one quoted string literal (or literal part of a template) in
// the source, comments excluded.
type Literal struct {
	Text  string
	Range hcl.Range
}

// Literals returns every quoted literal of every file.
func (c *Config) Literals() []Literal { return c.literals }

func (c *Config) lexLiterals() []Literal {
	var out []Literal
	names := make([]string, 0, len(c.files))
	for n := range c.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		toks, _ := hclsyntax.LexConfig(c.files[n], n, hcl.InitialPos)
		for _, t := range toks {
			if t.Type == hclsyntax.TokenQuotedLit || t.Type == hclsyntax.TokenStringLit {
				out = append(out, Literal{Text: string(t.Bytes), Range: t.Range})
			}
		}
	}
	return out
}

// Enclosing returns the top-level block whose range contains rng, or nil.
func (c *Config) Enclosing(rng hcl.Range) *Block {
	for _, b := range c.Blocks {
		if b.File == rng.Filename && b.Range.Start.Byte <= rng.Start.Byte && rng.End.Byte <= b.Range.End.Byte {
			return b
		}
	}
	return nil
}

// Local returns the literal value of local.name in module dir.
func (c *Config) Local(dir, name string) (cty.Value, bool) {
	if a := c.localAttr(dir, name); a != nil {
		return literal(a.Expr)
	}
	return cty.NilVal, false
}

func (c *Config) localAttr(dir, name string) *hclsyntax.Attribute {
	for _, b := range c.Blocks {
		if b.Type == "locals" && b.Dir == dir {
			if a, ok := b.Body.Attributes[name]; ok {
				return a
			}
		}
	}
	return nil
}

// VariableDefault returns the literal default of var.name in module dir.
func (c *Config) VariableDefault(dir, name string) (cty.Value, bool) {
	for _, b := range c.Blocks {
		if b.Type == "variable" && b.Dir == dir && b.label(0) == name {
			if a, ok := b.Body.Attributes["default"]; ok {
				return literal(a.Expr)
			}
		}
	}
	return cty.NilVal, false
}

// StringIn resolves expr to a string: a literal, or a reference to a local
// or a variable default with a literal value in module dir.
func (c *Config) StringIn(dir string, expr hclsyntax.Expression) (string, bool) {
	if v, ok := literal(expr); ok {
		return asString(v)
	}
	tr, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || len(tr) != 2 {
		return "", false
	}
	attr, ok := tr[1].(hcl.TraverseAttr)
	if !ok {
		return "", false
	}
	var v cty.Value
	switch tr.RootName() {
	case "local":
		v, ok = c.Local(dir, attr.Name)
	case "var":
		v, ok = c.VariableDefault(dir, attr.Name)
	default:
		return "", false
	}
	if !ok {
		return "", false
	}
	return asString(v)
}

// String resolves the attribute at path of b as [Config.StringIn] does.
func (c *Config) String(b *Block, path ...string) (string, bool) {
	a := attr(b.Body, path...)
	if a == nil {
		return "", false
	}
	return c.StringIn(b.Dir, a.Expr)
}

// attrSource returns the source text of the attribute at path, or "".
func (c *Config) attrSource(body *hclsyntax.Body, path ...string) string {
	a := attr(body, path...)
	if a == nil {
		return ""
	}
	return c.Source(a.Expr.Range())
}
