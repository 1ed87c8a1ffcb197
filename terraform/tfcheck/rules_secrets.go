package tfcheck

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/gatehouse-dev/gatehouse/shared/config"
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
		if b.Dir == bootstrapDir {
			continue // the pipeline's own secret: checkPipelineIdentities
		}
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
		if b.Dir == bootstrapDir {
			continue
		}
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

// secretish matches the names of variables that hold secrets: client and
// webhook secrets, the pepper, keys, passwords and URLs that embed one
// (GATEHOUSE_DB_URL, GATEHOUSE_SMTP_URL). GATEHOUSE_PASSWORD_MAX_CONCURRENT
// is a setting about passwords, not one.
var secretish = regexp.MustCompile(`(?i)(SECRET|PEPPER|PRIVATE_KEY|API_KEY|PASSWORD$|_DB_URL$|_SMTP_URL$)`)

// notSecret names settings that match [secretish] but hold no secret:
// GATEHOUSE_SECRETS_GENERATION is the counter that rolls secrets.
var notSecret = map[string]bool{"GATEHOUSE_SECRETS_GENERATION": true}

// checkNoPlainSecretEnv: no function receives a secret-looking variable as
// plain environment; secrets go through secret_env (CRED-9).
func checkNoPlainSecretEnv(c *Config) []Issue {
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
			if secretish.MatchString(k) && !notSecret[k] {
				issues = append(issues, issuef(b, "plain env %s looks like a secret; use secret_env", k))
			}
		}
	}
	return issues
}

// objectKeys returns the literal keys of the object constructors in expr,
// including those passed to functions such as merge, and the key templates
// of for expressions with "*" for each interpolation
// ("GATEHOUSE_OAUTH_*_CLIENT_ID").
func objectKeys(expr hclsyntax.Expression) []string {
	var keys []string
	_ = hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		switch e := n.(type) {
		case *hclsyntax.ObjectConsExpr:
			for _, it := range e.Items {
				if v, ok := literal(it.KeyExpr); ok {
					if s, ok := asString(v); ok {
						keys = append(keys, s)
					}
				}
			}
		case *hclsyntax.ForExpr:
			if e.KeyExpr != nil {
				keys = append(keys, keyPattern(e.KeyExpr))
			}
		}
		return nil
	})
	return keys
}

// keyPattern returns the literal parts of a key expression, with "*" for
// everything else.
func keyPattern(expr hclsyntax.Expression) string {
	t, ok := expr.(*hclsyntax.TemplateExpr)
	if !ok {
		if v, ok := literal(expr); ok {
			if s, ok := asString(v); ok {
				return s
			}
		}
		return "*"
	}
	var b strings.Builder
	for _, p := range t.Parts {
		if v, ok := literal(p); ok {
			if s, ok := asString(v); ok {
				b.WriteString(s)
				continue
			}
		}
		b.WriteString("*")
	}
	return b.String()
}

// checkSecretDelivery: the function module delivers every secret as a
// reference to its latest version in Secret Manager, which the function's
// configuration loader reads and checks itself (CRED-9), and never through
// Cloud Run's secret environment variables or volumes: in staging and prod
// the loader refuses a secret that does not arrive as an sm:// reference.
func checkSecretDelivery(c *Config) []Issue {
	fns := c.Resources("google_cloudfunctions2_function")
	issues := requireSome(fns, "google_cloudfunctions2_function")
	for _, b := range fns {
		for _, typ := range []string{"secret_environment_variables", "secret_volumes"} {
			if len(nested(b.Body, "service_config", typ)) > 0 {
				issues = append(issues, issuef(b, "service_config.%s delivers a plain secret value; use secret_env (sm:// references)", typ))
			}
		}
		scope := c.NewScope(b.Dir, map[string]cty.Value{
			"project_id": cty.StringVal("p"),
			"env":        cty.MapVal(map[string]cty.Value{"PLAIN": cty.StringVal("v")}),
			"secret_env": cty.MapVal(map[string]cty.Value{"REFERENCED": cty.StringVal("s")}),
		}, nil)
		v, err := scope.EvalAttr(b, "service_config", "environment_variables")
		if err != nil {
			issues = append(issues, issuef(b, "service_config.environment_variables: %v", err))
			continue
		}
		got, err := StringMap(v)
		want := map[string]string{"PLAIN": "v", "REFERENCED": config.SecretRefPrefix + "projects/p/secrets/s/versions/latest"}
		if err != nil || !maps.Equal(got, want) {
			issues = append(issues, issuef(b, "environment_variables from env {PLAIN=v} and secret_env {REFERENCED=s} is %v, want %v", got, want))
		}
	}
	return issues
}

// checkSecretDeletionProtection: every secret has deletion protection, and
// the password pepper, which no one can recreate, cannot be destroyed by
// Terraform either (CRED-9).
func checkSecretDeletionProtection(c *Config) []Issue {
	secrets := c.Resources("google_secret_manager_secret")
	issues := requireSome(secrets, "google_secret_manager_secret")
	for _, b := range secrets {
		if !literalBool(b.Body, true, "deletion_protection") {
			issues = append(issues, issuef(b, "deletion_protection must be the literal true"))
		}
		if b.label(1) == "password_pepper" && !preventDestroy(b.Body) {
			issues = append(issues, issuef(b, "the pepper needs lifecycle.prevent_destroy"))
		}
	}
	return issues
}
