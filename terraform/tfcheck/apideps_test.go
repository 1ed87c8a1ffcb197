package tfcheck

import (
	"regexp"
	"slices"
	"testing"
)

var blockRef = regexp.MustCompile(`\b(module\.[a-z0-9_]+|local\.[a-z0-9_]+|google_[a-z0-9_]+\.[a-z0-9_]+)`)

// Every resource and module of modules/gatehouse waits for the project's
// APIs, through depends_on or a reference to something that does, so the
// first apply on a fresh project (the deploy build's first run) needs no
// -target sequence and no second try.
//
// Controls: INFRA-9
func TestEveryResourceWaitsForTheAPIs(t *testing.T) {
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	const dir, api = "modules/gatehouse", "google_project_service.api"
	// A reference to local.x counts as the references x's expression makes.
	locals := map[string][]string{}
	for _, b := range c.Blocks {
		if b.Dir == dir && b.Type == "locals" {
			for name, a := range b.Body.Attributes {
				locals["local."+name] = blockRef.FindAllString(c.Source(a.Range()), -1)
			}
		}
	}
	var expand func(ref string, seen map[string]bool) []string
	expand = func(ref string, seen map[string]bool) []string {
		if _, ok := locals[ref]; !ok || seen[ref] {
			return []string{ref}
		}
		seen[ref] = true
		var out []string
		for _, r := range locals[ref] {
			out = append(out, expand(r, seen)...)
		}
		return out
	}
	deps := map[string][]string{}
	var addrs []string
	for _, b := range c.Blocks {
		if b.Dir != dir || (b.Type != "resource" && b.Type != "module") || b.Address() == "terraform_data.auth_memory_bound" {
			continue
		}
		addr := b.Address()
		addrs = append(addrs, addr)
		for _, m := range blockRef.FindAllString(c.Source(b.Range), -1) {
			for _, d := range expand(m, map[string]bool{}) {
				if d != addr {
					deps[addr] = append(deps[addr], d)
				}
			}
		}
	}
	if len(addrs) < 20 {
		t.Fatalf("found only %d blocks in %s", len(addrs), dir)
	}
	waits := map[string]bool{api: true}
	for changed := true; changed; {
		changed = false
		for _, a := range addrs {
			if !waits[a] && slices.ContainsFunc(deps[a], func(d string) bool { return waits[d] }) {
				waits[a], changed = true, true
			}
		}
	}
	for _, a := range addrs {
		if !waits[a] {
			t.Errorf("%s/%s does not wait for %s (depends_on or a reference)", dir, a, api)
		}
	}
}
