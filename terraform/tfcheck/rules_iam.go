package tfcheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// functionAccounts maps each function module call to the one service
// account resource its service_account_email references.
func functionAccounts(c *Config) map[string]string {
	out := map[string]string{}
	for _, b := range c.ModuleCalls("function") {
		if refs := attrRefs(b.Body, "google_service_account", "service_account_email"); len(refs) == 1 {
			out[b.label(0)] = refs[0]
		}
	}
	return out
}

// memberFunction returns the function whose account the member attribute
// of b names, when it names exactly one service account and that account
// belongs to a function.
func memberFunction(b *Block, fns map[string]string) (string, bool) {
	refs := attrRefs(b.Body, "google_service_account", "member")
	if len(refs) != 1 {
		return "", false
	}
	for fn, sa := range fns {
		if sa == refs[0] {
			return fn, true
		}
	}
	return "", false
}

// checkOneServiceAccountPerFunction: the four functions each run as their
// own declared service account, used for nothing else (INFRA-4).
func checkOneServiceAccountPerFunction(c *Config) []Issue {
	var issues []Issue
	calls := c.ModuleCalls("function")
	var names []string
	owner := map[string]string{} // service account => function
	for _, b := range calls {
		fn := b.label(0)
		names = append(names, fn)
		if n, _ := literalString(b.Body, "name"); n != fn {
			issues = append(issues, issuef(b, "name %q must equal the module label", n))
		}
		refs := attrRefs(b.Body, "google_service_account", "service_account_email")
		if len(refs) != 1 {
			issues = append(issues, issuef(b, "service_account_email must reference exactly one google_service_account"))
			continue
		}
		if prev, dup := owner[refs[0]]; dup {
			issues = append(issues, issuef(b, "shares google_service_account.%s with %s", refs[0], prev))
		}
		owner[refs[0]] = fn
		if !declared(c, b.Dir, "google_service_account", refs[0]) {
			issues = append(issues, issuef(b, "google_service_account.%s is not declared", refs[0]))
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, functionNames()) {
		issues = append(issues, Issue{Where: "(configuration)", Msg: fmt.Sprintf("function module calls %v, want %v", names, functionNames())})
	}
	for _, b := range calls {
		for _, sa := range append(attrRefs(b.Body, "google_service_account", "build_service_account_id"),
			attrRefs(b.Body, "google_service_account", "invokers")...) {
			if fn, ok := owner[sa]; ok {
				issues = append(issues, issuef(b, "reuses %s's runtime account google_service_account.%s", fn, sa))
			}
		}
	}
	return issues
}

func declared(c *Config, dir, typ, name string) bool {
	for _, b := range c.Resources(typ) {
		if b.Dir == dir && b.label(1) == name {
			return true
		}
	}
	return false
}

// literalIssues reports every quoted literal that bad matches.
func literalIssues(c *Config, bad func(string) string) []Issue {
	var issues []Issue
	for _, l := range c.Literals() {
		if msg := bad(l.Text); msg != "" {
			issues = append(issues, Issue{Where: fmt.Sprintf("%s:%d", l.Range.Filename, l.Range.Start.Line), Msg: msg})
		}
	}
	return issues
}

// checkNoPrimitiveRoles: no owner, editor or viewer role anywhere (INFRA-4).
func checkNoPrimitiveRoles(c *Config) []Issue {
	primitive := regexp.MustCompile(`^roles/(owner|editor|viewer)$`)
	issues := literalIssues(c, func(s string) string {
		if primitive.MatchString(s) {
			return "primitive role " + s
		}
		return ""
	})
	for _, typ := range []string{"google_project_iam_binding", "google_project_iam_policy"} {
		for _, b := range c.Resources(typ) {
			issues = append(issues, issuef(b, "authoritative project IAM (%s) is not allowed", typ))
		}
	}
	return issues
}

// checkNoUserPrincipals: IAM goes to service accounts only: no user,
// group or domain principals and never allAuthenticatedUsers (INFRA-4).
func checkNoUserPrincipals(c *Config) []Issue {
	return literalIssues(c, func(s string) string {
		for _, p := range []string{"user:", "group:", "domain:", "principal:", "principalSet:"} {
			if strings.HasPrefix(s, p) {
				return "principal " + s + " is not a service account"
			}
		}
		if s == "allAuthenticatedUsers" {
			return "allAuthenticatedUsers is never allowed"
		}
		return ""
	})
}

// checkNoDefaultServiceAccounts: every function, build and trigger names
// its identity, and no default account is referenced (INFRA-4).
func checkNoDefaultServiceAccounts(c *Config) []Issue {
	issues := literalIssues(c, func(s string) string {
		for _, d := range []string{"-compute@developer.gserviceaccount.com", "@appspot.gserviceaccount.com", "@cloudbuild.gserviceaccount.com"} {
			if strings.Contains(s, d) {
				return "default service account " + s
			}
		}
		return ""
	})
	for _, typ := range []string{"google_compute_default_service_account", "google_app_engine_default_service_account"} {
		for _, b := range c.DataSources(typ) {
			issues = append(issues, issuef(b, "%s is not allowed", typ))
		}
	}
	for _, b := range c.Resources("google_cloudfunctions2_function") {
		for _, p := range [][]string{{"service_config", "service_account_email"}, {"build_config", "service_account"}} {
			if attr(b.Body, p...) == nil {
				issues = append(issues, issuef(b, "%s is not set: the default account would be used", strings.Join(p, ".")))
			}
		}
		for _, t := range nested(b.Body, "event_trigger") {
			if t.Attributes["service_account_email"] == nil {
				issues = append(issues, issuef(b, "event_trigger.service_account_email is not set"))
			}
		}
	}
	return issues
}

// publicInvokerBinding reports whether b is the function module's
// run.invoker binding that exists only when var.public is true.
func publicInvokerBinding(c *Config, b *Block) bool {
	if b == nil || b.Type != "resource" || b.label(0) != "google_cloud_run_v2_service_iam_member" {
		return false
	}
	role, _ := literalString(b.Body, "role")
	return role == "roles/run.invoker" && strings.Contains(c.attrSource(b.Body, "count"), "var.public ?")
}

// checkPublicInvokers: allUsers may invoke only the public routes, through
// the function module's var.public binding; rotate is never public (INFRA-4).
func checkPublicInvokers(c *Config) []Issue {
	var issues []Issue
	for _, l := range c.Literals() {
		if l.Text != "allUsers" {
			continue
		}
		b := c.Enclosing(l.Range)
		if !publicInvokerBinding(c, b) {
			issues = append(issues, Issue{Where: fmt.Sprintf("%s:%d", l.Range.Filename, l.Range.Start.Line),
				Msg: "allUsers outside the function module's var.public invoker binding"})
		}
	}
	var public []string
	for _, b := range c.ModuleCalls("function") {
		v, ok := literalValue(b.Body, "public")
		if !ok || v.Type().FriendlyName() != "bool" {
			issues = append(issues, issuef(b, "public must be a literal bool"))
			continue
		}
		if v.True() {
			public = append(public, b.label(0))
			if attr(b.Body, "invokers") != nil {
				issues = append(issues, issuef(b, "a function with named invokers must not be public"))
			}
		}
		if ing, _ := literalString(b.Body, "ingress"); b.label(0) == "rotate" && ing != "ALLOW_INTERNAL_ONLY" {
			issues = append(issues, issuef(b, "rotate ingress must be ALLOW_INTERNAL_ONLY"))
		}
	}
	slices.Sort(public)
	if !slices.Equal(public, publicRoutes()) {
		issues = append(issues, Issue{Where: "(configuration)", Msg: fmt.Sprintf("public functions %v, want %v", public, publicRoutes())})
	}
	return issues
}
