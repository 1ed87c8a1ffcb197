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

// checkPoolAndIdentity: builds run on a private worker pool, as a named
// service account (not the default Cloud Build account).
func checkPoolAndIdentity(b *Build) []string {
	var issues []string
	if !strings.Contains(b.Options.Pool.Name, "/workerPools/") {
		issues = append(issues, "options.pool.name does not name a private worker pool")
	}
	if b.ServiceAccount == "" || strings.Contains(b.ServiceAccount, "@cloudbuild.gserviceaccount.com") {
		issues = append(issues, "serviceAccount must name the environment's deployer account")
	}
	return issues
}
