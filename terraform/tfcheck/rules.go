package tfcheck

import (
	"fmt"
	"sort"
)

// Issue is one violation found by a check.
type Issue struct {
	Where string // file:line and address
	Msg   string
}

func issuef(b *Block, format string, args ...any) Issue {
	return Issue{Where: b.Where(), Msg: fmt.Sprintf(format, args...)}
}

// Finding is an [Issue] attributed to the rule that found it.
type Finding struct {
	Rule string
	Issue
}

func (f Finding) String() string { return f.Rule + ": " + f.Where + ": " + f.Msg }

// Rule is one named check over the whole configuration.
type Rule struct {
	ID       string   // stable name, e.g. "sql-private-ip-only"
	Controls []string // control IDs the rule helps prove, e.g. INFRA-1
	Check    func(*Config) []Issue
}

// functionNames returns the functions Gatehouse deploys, sorted.
func functionNames() []string { return []string{"auth", "oauthcallback", "rotate", "webhooks"} }

// kmsUsers returns the functions that seal or open data keys with the KEK.
func kmsUsers() []string { return []string{"auth", "oauthcallback", "rotate"} }

// publicRoutes returns the functions anyone on the internet may invoke.
func publicRoutes() []string { return []string{"auth", "oauthcallback", "webhooks"} }

// publishers returns, per Pub/Sub topic, the functions that publish to it:
// auth (e-mails, alerts) and oauthcallback (the new-device alert of a
// social sign-in) send notifications; webhooks (its outbox relay) and
// rotate (the outbox task) publish billing and webhook events; rotate alone
// publishes the events to the SaaS (saas-events), which every function
// writes to the outbox.
func publishers() map[string][]string {
	return map[string][]string{
		"notifications":  {"auth", "oauthcallback"},
		"billing-events": {"rotate", "webhooks"},
		"webhook-events": {"rotate", "webhooks"},
		"saas-events":    {"rotate"},
	}
}

// topics returns the Pub/Sub topics Gatehouse needs.
func topics() []string {
	return []string{"notifications", "billing-events", "webhook-events", "saas-events", "rotation"}
}

// Rules returns every check, in a stable order. What real tools check is
// not repeated here: terraform validate (in CI, with the real provider)
// resolves every reference, module argument and attribute; terraform
// test (modules/gatehouse/tests) plans how values flow: the connection
// budget, the auth memory bound, ingress against proxy hops; trivy scans
// for the common misconfigurations. These rules hold what none of them
// checks: Gatehouse's own least-privilege and security posture, as
// literals readable from the source.
func Rules() []Rule {
	return []Rule{
		{"network-custom-mode", []string{"INFRA-1"}, checkCustomNetwork},
		{"firewall-default-deny-ingress", []string{"INFRA-1"}, checkDenyIngress},
		{"private-service-access", []string{"INFRA-1"}, checkPrivateServiceAccess},
		{"function-private-egress", []string{"INFRA-1"}, checkFunctionEgress},
		{"sql-private-ip-only", []string{"INFRA-1"}, checkSQLPrivateIP},
		{"sql-iam-auth", []string{"INFRA-1"}, checkSQLIAMAuth},
		{"sql-no-password-user", []string{"INFRA-1", "CRED-9"}, checkSQLNoPasswordUser},
		{"sql-regional-ha", []string{"INFRA-2"}, checkSQLHA},
		{"sql-backups-pitr", []string{"INFRA-2"}, checkSQLBackups},
		{"sql-deletion-protection", []string{"INFRA-2"}, checkSQLDeletionProtection},
		{"sql-logging-flags", []string{"INFRA-2"}, checkSQLLogFlags},
		{"kms-rotation-period", []string{"INFRA-3"}, checkKMSRotation},
		{"kms-prevent-destroy", []string{"INFRA-3"}, checkKMSPreventDestroy},
		{"kms-key-users", []string{"INFRA-3", "CRED-3"}, checkKMSUsers},
		{"one-service-account-per-function", []string{"INFRA-4"}, checkOneServiceAccountPerFunction},
		{"no-primitive-roles", []string{"INFRA-4"}, checkNoPrimitiveRoles},
		{"no-user-principals", []string{"INFRA-4"}, checkNoUserPrincipals},
		{"no-default-service-accounts", []string{"INFRA-4"}, checkNoDefaultServiceAccounts},
		{"public-invoker-only-public-routes", []string{"INFRA-4"}, checkPublicInvokers},
		{"secret-accessor-per-function", []string{"INFRA-4", "CRED-9"}, checkSecretAccessors},
		{"secrets-not-in-state", []string{"CRED-9"}, checkSecretsNotInState},
		{"secret-deletion-protection", []string{"CRED-9"}, checkSecretDeletionProtection},
		{"edge-policy", []string{"INFRA-8"}, checkEdgePolicy},
		{"pipeline-identities", []string{"INFRA-9", "INFRA-6"}, checkPipelineIdentities},
		{"no-secrets-in-plain-env", []string{"CRED-9"}, checkNoPlainSecretEnv},
		{"secret-delivery-reference", []string{"CRED-9"}, checkSecretDelivery},
		{"pubsub-publishers", []string{"INFRA-4"}, checkPublishers},
		{"environments-separate", []string{"INFRA-5"}, checkEnvironments},
		{"provider-pinned", []string{"INFRA-5"}, checkProviderPinned},
		{"log-bucket-locked", []string{"INFRA-7", "AUDIT-3"}, checkLockedLogBucket},
		{"alert-policies", []string{"INFRA-7"}, checkAlertPolicies},
		{"audit-log-routing", []string{"INFRA-7", "AUDIT-1"}, checkAuditLogRouting},
		{"pubsub-dead-letters", nil, checkPubSubDeadLetters},
		{"rotate-trigger-retry", []string{"CRED-8"}, checkRotateTrigger},
		{"rotation-message", []string{"CRED-8"}, checkRotationMessage},
	}
}

// Run applies every rule and returns the findings, sorted.
func Run(c *Config) []Finding {
	var out []Finding
	for _, r := range Rules() {
		for _, is := range r.Check(c) {
			out = append(out, Finding{Rule: r.ID, Issue: is})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// requireSome reports one issue when a required resource type is missing.
func requireSome(blocks []*Block, what string) []Issue {
	if len(blocks) == 0 {
		return []Issue{{Where: "(configuration)", Msg: "no " + what}}
	}
	return nil
}
