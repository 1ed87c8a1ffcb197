package cloudbuildcheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var secretName = regexp.MustCompile(`(?i)(PASSWORD|SECRET|TOKEN|API_?KEY|PRIVATE)`)

// checkSecrets: secrets come only from availableSecrets through secretEnv;
// no secret-looking variable has a value in the file.
func checkSecrets(b *Build) []string {
	var issues []string
	if len(b.Secrets) > 0 {
		issues = append(issues, "the legacy secrets field keeps ciphertext in the file; use availableSecrets")
	}
	declared := map[string]bool{}
	for _, s := range b.AvailableSecrets.SecretManager {
		declared[s.Env] = true
	}
	for k := range b.Substitutions {
		if secretName.MatchString(k) {
			issues = append(issues, "substitution "+k+" looks like a secret")
		}
	}
	envs := slices.Clone(b.Options.Env)
	for _, s := range b.Steps {
		envs = append(envs, s.Env...)
		for _, e := range s.SecretEnv {
			if !declared[e] {
				issues = append(issues, fmt.Sprintf("step %s secretEnv %s is not in availableSecrets", s.ID, e))
			}
		}
	}
	for _, e := range envs {
		if name, _, _ := strings.Cut(e, "="); secretName.MatchString(name) {
			issues = append(issues, "env "+name+" looks like a secret with a value in the file")
		}
	}
	return issues
}

// checkPool: builds run on a private worker pool.
func checkPool(b *Build) []string {
	if !strings.Contains(b.Options.Pool.Name, "/workerPools/") {
		return []string{"options.pool.name does not name a private worker pool"}
	}
	return nil
}

// checkIdentity: the build runs as the named account of terraform/bootstrap
// (through the substitution sub, whose default must be account), never as
// the default Cloud Build account.
func checkIdentity(b *Build, ref, sub, account string) []string {
	want := "projects/${PROJECT_ID}/serviceAccounts/" + ref + "@${PROJECT_ID}.iam.gserviceaccount.com"
	var issues []string
	if b.ServiceAccount != want {
		issues = append(issues, fmt.Sprintf("serviceAccount is %q, want the %s account %s", b.ServiceAccount, account, want))
	}
	if got := b.Substitutions[sub]; got != account {
		issues = append(issues, fmt.Sprintf("substitution %s is %q, want %s", sub, got, account))
	}
	return issues
}
