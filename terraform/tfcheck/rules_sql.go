package tfcheck

import (
	"slices"
)

// sqlInstances returns the Cloud SQL instances and an issue if there is none.
func sqlInstances(c *Config) ([]*Block, []Issue) {
	bs := c.Resources("google_sql_database_instance")
	return bs, requireSome(bs, "google_sql_database_instance")
}

// checkSQLPrivateIP: no public IPv4, a private network, no authorized
// networks, TLS required (INFRA-1).
func checkSQLPrivateIP(c *Config) []Issue {
	bs, issues := sqlInstances(c)
	okModes := []string{"ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"}
	for _, b := range bs {
		ipc := []string{"settings", "ip_configuration"}
		if !literalBool(b.Body, false, append(ipc, "ipv4_enabled")...) {
			issues = append(issues, issuef(b, "ip_configuration.ipv4_enabled must be the literal false"))
		}
		if attr(b.Body, append(ipc, "private_network")...) == nil {
			issues = append(issues, issuef(b, "ip_configuration.private_network is not set"))
		}
		if len(nested(b.Body, append(ipc, "authorized_networks")...)) > 0 {
			issues = append(issues, issuef(b, "ip_configuration has authorized_networks"))
		}
		if m, _ := literalString(b.Body, append(ipc, "ssl_mode")...); !slices.Contains(okModes, m) {
			issues = append(issues, issuef(b, "ip_configuration.ssl_mode %q is not ENCRYPTED_ONLY or stricter", m))
		}
	}
	return issues
}

// sqlFlags returns the literal database flags of an instance.
func sqlFlags(b *Block) map[string]string {
	flags := map[string]string{}
	for _, f := range nested(b.Body, "settings", "database_flags") {
		n, _ := literalString(f, "name")
		v, _ := literalString(f, "value")
		flags[n] = v
	}
	return flags
}

// checkSQLIAMAuth: IAM database authentication is on (INFRA-1).
func checkSQLIAMAuth(c *Config) []Issue {
	bs, issues := sqlInstances(c)
	for _, b := range bs {
		if sqlFlags(b)["cloudsql.iam_authentication"] != "on" {
			issues = append(issues, issuef(b, "flag cloudsql.iam_authentication must be on"))
		}
	}
	return issues
}

// checkSQLNoPasswordUser: every database user is an IAM service account
// user and no password is ever in configuration or state.
func checkSQLNoPasswordUser(c *Config) []Issue {
	var issues []Issue
	users := c.Resources("google_sql_user")
	issues = append(issues, requireSome(users, "google_sql_user")...)
	for _, b := range users {
		if t, _ := literalString(b.Body, "type"); t != "CLOUD_IAM_SERVICE_ACCOUNT" {
			issues = append(issues, issuef(b, "type must be CLOUD_IAM_SERVICE_ACCOUNT, got %q", t))
		}
		for _, a := range []string{"password", "password_wo"} {
			if attr(b.Body, a) != nil {
				issues = append(issues, issuef(b, "sets %s", a))
			}
		}
	}
	for _, b := range c.Resources("google_sql_database_instance") {
		if attr(b.Body, "root_password") != nil {
			issues = append(issues, issuef(b, "sets root_password"))
		}
	}
	return issues
}

// checkSQLHA: PostgreSQL 16 with a regional (HA) configuration (INFRA-2).
func checkSQLHA(c *Config) []Issue {
	bs, issues := sqlInstances(c)
	for _, b := range bs {
		if v, _ := literalString(b.Body, "database_version"); v != "POSTGRES_16" {
			issues = append(issues, issuef(b, "database_version must be POSTGRES_16, got %q", v))
		}
		if a, _ := literalString(b.Body, "settings", "availability_type"); a != "REGIONAL" {
			issues = append(issues, issuef(b, "settings.availability_type must be REGIONAL"))
		}
	}
	return issues
}

// checkSQLBackups: automated backups, 30 retained, point-in-time recovery
// with 7 days of transaction logs (INFRA-2).
func checkSQLBackups(c *Config) []Issue {
	bs, issues := sqlInstances(c)
	bc := []string{"settings", "backup_configuration"}
	for _, b := range bs {
		if !literalBool(b.Body, true, append(bc, "enabled")...) {
			issues = append(issues, issuef(b, "backup_configuration.enabled must be true"))
		}
		if !literalBool(b.Body, true, append(bc, "point_in_time_recovery_enabled")...) {
			issues = append(issues, issuef(b, "point_in_time_recovery_enabled must be true"))
		}
		if d, ok := literalInt(b.Body, append(bc, "transaction_log_retention_days")...); !ok || d < 7 {
			issues = append(issues, issuef(b, "transaction_log_retention_days must be at least 7"))
		}
		rs := append(bc, "backup_retention_settings")
		if n, ok := literalInt(b.Body, append(rs, "retained_backups")...); !ok || n < 30 {
			issues = append(issues, issuef(b, "retained_backups must be at least 30"))
		}
		if u, ok := literalString(b.Body, append(rs, "retention_unit")...); ok && u != "COUNT" {
			issues = append(issues, issuef(b, "retention_unit must be COUNT"))
		}
	}
	return issues
}

// checkSQLDeletionProtection: Terraform and API deletion protection, and
// prevent_destroy (INFRA-2).
func checkSQLDeletionProtection(c *Config) []Issue {
	bs, issues := sqlInstances(c)
	for _, b := range bs {
		if !literalBool(b.Body, true, "deletion_protection") {
			issues = append(issues, issuef(b, "deletion_protection must be true"))
		}
		if !literalBool(b.Body, true, "settings", "deletion_protection_enabled") {
			issues = append(issues, issuef(b, "settings.deletion_protection_enabled must be true"))
		}
		if !preventDestroy(b.Body) {
			issues = append(issues, issuef(b, "lifecycle.prevent_destroy must be true"))
		}
	}
	return issues
}

// checkSQLLogFlags: connection, checkpoint, lock and temp-file logging on,
// statement-duration logging off (statements carry user data) (INFRA-2).
func checkSQLLogFlags(c *Config) []Issue {
	want := map[string]string{
		"log_connections":            "on",
		"log_disconnections":         "on",
		"log_checkpoints":            "on",
		"log_lock_waits":             "on",
		"log_temp_files":             "0",
		"log_min_duration_statement": "-1",
	}
	bs, issues := sqlInstances(c)
	for _, b := range bs {
		flags := sqlFlags(b)
		for _, name := range sortedKeys(want) {
			if flags[name] != want[name] {
				issues = append(issues, issuef(b, "flag %s must be %q, got %q", name, want[name], flags[name]))
			}
		}
	}
	return issues
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
