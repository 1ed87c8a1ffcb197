package tfcheck

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Argon2id memory bound of the auth function (AUTH-1, docs/scaling.md).
const (
	argon2DefaultKiB = 19456 // shared/password DefaultParams.Memory
	// heapHeadroomMiB is the least GOMEMLIMIT allows beyond the hashes:
	// TestLoginMemoryBound (functions/auth) bounds peak heap growth under
	// load by the semaphore's memory plus this much.
	heapHeadroomMiB = 64
	// nonHeapMiB is the least the instance keeps beyond GOMEMLIMIT, a soft
	// limit: the binary, non-Go memory and the overshoot when the live heap
	// exceeds the limit.
	nonHeapMiB = 256
)

var (
	goMemLimitRE = regexp.MustCompile(`^([0-9]+)(MiB|GiB)$`)
	runMemoryRE  = regexp.MustCompile(`^([0-9]+)(Mi|Gi)$`)
)

// checkAuthMemory: in every environment the auth function's GOMEMLIMIT
// covers GATEHOUSE_PASSWORD_MAX_CONCURRENT Argon2id hashes plus the heap
// headroom, and the instance memory covers GOMEMLIMIT plus the non-heap
// margin, so concurrent hashing cannot push an instance out of memory.
func checkAuthMemory(c *Config) []Issue {
	var issues []Issue
	for _, env := range []string{"dev", "staging", "prod"} {
		scope, err := c.EnvironmentScope(env, nil, nil)
		if err != nil {
			issues = append(issues, Issue{Where: "environments/" + env, Msg: err.Error()})
			continue
		}
		call := functionCall(c, scope.dir, "auth")
		if call == nil {
			issues = append(issues, Issue{Where: scope.dir, Msg: "no auth function module call"})
			continue
		}
		if msg := authMemory(c, scope, call); msg != "" {
			issues = append(issues, issuef(call, "environment %s: %s", env, msg))
		}
	}
	return issues
}

// authMemory returns what is wrong with the auth call's memory settings in
// scope, or "".
func authMemory(c *Config, scope *Scope, call *Block) string {
	get := func(key string) (string, bool) {
		expr := envItem(c, call, key)
		if expr == nil {
			return "", false
		}
		v, err := scope.Eval(expr)
		if err != nil {
			return "", false
		}
		s, ok := asString(v)
		return s, ok
	}
	conc, ok1 := get("GATEHOUSE_PASSWORD_MAX_CONCURRENT")
	limit, ok2 := get("GOMEMLIMIT")
	if !ok1 || !ok2 {
		return "env must set GATEHOUSE_PASSWORD_MAX_CONCURRENT and GOMEMLIMIT to values that evaluate"
	}
	s, err := strconv.Atoi(conc)
	if err != nil || s < 1 {
		return fmt.Sprintf("GATEHOUSE_PASSWORD_MAX_CONCURRENT %q is not a positive integer", conc)
	}
	hashMiB := (argon2DefaultKiB + 1023) / 1024
	if kib, ok := get("GATEHOUSE_ARGON2_MEMORY_KIB"); ok {
		n, err := strconv.Atoi(kib)
		if err != nil {
			return fmt.Sprintf("GATEHOUSE_ARGON2_MEMORY_KIB %q is not an integer", kib)
		}
		hashMiB = (n + 1023) / 1024
	}
	limitMiB, ok := mebibytes(goMemLimitRE, limit)
	if !ok {
		return fmt.Sprintf("GOMEMLIMIT %q is not <n>MiB or <n>GiB", limit)
	}
	if need := s*hashMiB + heapHeadroomMiB; limitMiB < need {
		return fmt.Sprintf("GOMEMLIMIT %d MiB is below %d hashes x %d MiB + %d MiB", limitMiB, s, hashMiB, heapHeadroomMiB)
	}
	mem, err := scope.EvalAttr(call, "memory")
	memStr, _ := asString(mem)
	memMiB, ok := mebibytes(runMemoryRE, memStr)
	if err != nil || !ok {
		return fmt.Sprintf("memory %q is not <n>Mi or <n>Gi", memStr)
	}
	if memMiB < limitMiB+nonHeapMiB {
		return fmt.Sprintf("memory %d MiB is below GOMEMLIMIT %d MiB + %d MiB", memMiB, limitMiB, nonHeapMiB)
	}
	return ""
}

// functionCall returns the function module call named name in dir, or nil.
func functionCall(c *Config, dir, name string) *Block {
	for _, b := range c.ModuleCalls("function") {
		if b.Dir == dir && b.label(0) == name {
			return b
		}
	}
	return nil
}

func mebibytes(re *regexp.Regexp, s string) (int, bool) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, false
	}
	if m[2] == "GiB" || m[2] == "Gi" {
		n *= 1024
	}
	return n, true
}

// envItem returns the value expression of key in the env argument of a
// function module call: in an object constructor of the argument itself or
// of a local it references.
func envItem(c *Config, call *Block, key string) hclsyntax.Expression {
	a := call.Body.Attributes["env"]
	if a == nil {
		return nil
	}
	exprs := []hclsyntax.Expression{a.Expr}
	for _, l := range refNames(a.Expr, "local") {
		if la := c.localAttr(call.Dir, l); la != nil {
			exprs = append(exprs, la.Expr)
		}
	}
	var found hclsyntax.Expression
	for _, e := range exprs {
		_ = hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
			obj, ok := n.(*hclsyntax.ObjectConsExpr)
			if !ok {
				return nil
			}
			for _, it := range obj.Items {
				if v, ok := literal(it.KeyExpr); ok {
					if s, _ := asString(v); s == key {
						found = it.ValueExpr
					}
				}
			}
			return nil
		})
	}
	return found
}
