package tfcheck

import (
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

const secretAccessor = "roles/secretmanager.secretAccessor"

// secretOf returns the google_secret_manager_secret an IAM member binds:
// the one its secret_id references, or its for_each when secret_id is
// each.value.secret_id.
func secretOf(b *Block) (string, bool) {
	refs := attrRefs(b.Body, "google_secret_manager_secret", "secret_id")
	if len(refs) == 0 {
		refs = attrRefs(b.Body, "google_secret_manager_secret", "for_each")
	}
	if len(refs) != 1 {
		return "", false
	}
	return refs[0], true
}

// checkSecretAccessors: each secret is readable by exactly the functions
// that receive it, each binding naming one function's account (INFRA-4,
// CRED-9). No authoritative or project-wide secret grants.
func checkSecretAccessors(c *Config) []Issue {
	var issues []Issue
	for _, typ := range []string{"google_secret_manager_secret_iam_binding", "google_secret_manager_secret_iam_policy"} {
		for _, b := range c.Resources(typ) {
			issues = append(issues, issuef(b, "%s is not allowed; bind one function per google_secret_manager_secret_iam_member", typ))
		}
	}
	for _, b := range c.Resources("google_project_iam_member") {
		if role, _ := c.String(b, "role"); strings.HasPrefix(role, "roles/secretmanager.") {
			issues = append(issues, issuef(b, "project-wide Secret Manager role %s", role))
		}
	}
	fns := functionAccounts(c)
	readers := map[string][]string{}
	for _, b := range c.Resources("google_secret_manager_secret_iam_member") {
		if role, _ := c.String(b, "role"); role != secretAccessor {
			issues = append(issues, issuef(b, "role must be %s", secretAccessor))
		}
		fn, ok := memberFunction(b, fns)
		secret, ok2 := secretOf(b)
		if !ok || !ok2 {
			issues = append(issues, issuef(b, "must bind one google_secret_manager_secret to one function's service account"))
			continue
		}
		readers[secret] = append(readers[secret], fn)
	}
	users := map[string][]string{}
	for _, b := range c.ModuleCalls("function") {
		for _, s := range attrRefs(b.Body, "google_secret_manager_secret", "secret_env") {
			users[s] = append(users[s], b.label(0))
		}
	}
	for _, b := range c.Resources("google_secret_manager_secret") {
		name := b.label(1)
		r, u := sorted(readers[name]), sorted(users[name])
		switch {
		case len(u) == 0:
			issues = append(issues, issuef(b, "no function receives this secret"))
		case !slices.Equal(r, u):
			issues = append(issues, issuef(b, "readable by %v but used by %v", r, u))
		}
	}
	return issues
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// checkSecretsNotInState: secrets are created empty; a version is added out
// of band or write-only, and no secret value is read into state (CRED-9).
func checkSecretsNotInState(c *Config) []Issue {
	var issues []Issue
	for _, b := range c.Resources("google_secret_manager_secret_version") {
		if attr(b.Body, "secret_data") != nil {
			issues = append(issues, issuef(b, "secret_data puts the value in state; use secret_data_wo or add versions out of band"))
		}
	}
	for _, typ := range []string{"google_secret_manager_secret_version", "google_secret_manager_secret_version_access"} {
		for _, b := range c.DataSources(typ) {
			issues = append(issues, issuef(b, "data source %s reads a secret value into state", typ))
		}
	}
	return issues
}

// checkNoPlainSecretEnv: no function receives a secret-looking variable as
// plain environment; secrets go through secret_env (CRED-9).
func checkNoPlainSecretEnv(c *Config) []Issue {
	secretish := regexp.MustCompile(`(?i)(SECRET|PEPPER|PASSWORD|PRIVATE_KEY|API_KEY)`)
	var issues []Issue
	for _, b := range c.ModuleCalls("function") {
		a := b.Body.Attributes["env"]
		if a == nil {
			continue
		}
		keys := objectKeys(a.Expr)
		for _, l := range refNames(a.Expr, "local") {
			if la := c.localAttr(b.Dir, l); la != nil {
				keys = append(keys, objectKeys(la.Expr)...)
			}
		}
		for _, k := range keys {
			if secretish.MatchString(k) {
				issues = append(issues, issuef(b, "plain env %s looks like a secret; use secret_env", k))
			}
		}
	}
	return issues
}

// objectKeys returns the literal keys of the object constructors in expr,
// including those passed to functions such as merge.
func objectKeys(expr hclsyntax.Expression) []string {
	var keys []string
	_ = hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		item, ok := n.(*hclsyntax.ObjectConsExpr)
		if !ok {
			return nil
		}
		for _, it := range item.Items {
			if v, ok := literal(it.KeyExpr); ok {
				if s, ok := asString(v); ok {
					keys = append(keys, s)
				}
			}
		}
		return nil
	})
	return keys
}
