// Package storetest is the conformance suite every [store.Store]
// implementation runs: the same behaviour, the same errors, the same
// concurrency guarantees, on SQLite and on real PostgreSQL.
package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Opener returns a fresh, migrated, empty store for one test.
type Opener func(t *testing.T) store.Store

// Run runs the whole suite against the stores newStore opens.
func Run(t *testing.T, newStore Opener) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"DataKeys", testDataKeys},
		{"DataKeyConcurrentPrimary", testDataKeyConcurrentPrimary},
		{"AuditLog", testAuditLog},
		{"UserAuditEvents", testUserAuditEvents},
		{"AuditConcurrentAppend", testAuditConcurrentAppend},
		{"RateLimit", testRateLimit},
		{"RateLimitConcurrent", testRateLimitConcurrent},
		{"OneTimeTokens", testOneTimeTokens},
		{"ScopedTokens", testScopedTokens},
		{"SupersedeOneTimeTokens", testSupersedeOneTimeTokens},
		{"OneTimeTokenRace", testOneTimeTokenRace},
		{"TxRollback", testTxRollback},
		{"Users", testUsers},
		{"UserDelete", testUserDelete},
		{"SearchUsers", testSearchUsers},
		{"UserDisable", testUserDisable},
		{"UserDisableRace", testUserDisableRace},
		{"ListOrgs", testListOrgs},
		{"KnownDevices", testKnownDevices},
		{"Lockouts", testLockouts},
		{"Sessions", testSessions},
		{"SSOSessions", testSSOSessions},
		{"OrgSSOSessions", testOrgSSOSessions},
		{"SSOSessionRevokeRace", testSSOSessionRevokeRace},
		{"SessionAnnouncements", testSessionAnnouncements},
		{"Profile", testProfile},
		{"RefreshRotation", testRefreshRotation},
		{"RefreshRotationRace", testRefreshRotationRace},
		{"SigningKeys", testSigningKeys},
		{"OrgMembers", testOrgMembers},
		{"OrgMembersPaging", testOrgMembersPaging},
		{"OrgRoles", testOrgRoles},
		{"OrgRoleEdit", testOrgRoleEdit},
		{"OrgOwnerRace", testOrgOwnerRace},
		{"LockMemberRace", testLockMemberRace},
		{"DeleteUserMemberships", testDeleteUserMemberships},
		{"DeleteOrg", testDeleteOrg},
		{"DeleteOrgRace", testDeleteOrgRace},
		{"TOTPSecrets", testTOTPSecrets},
		{"TOTPReplayRace", testTOTPReplayRace},
		{"RecoveryCodes", testRecoveryCodes},
		{"WebAuthnCredentials", testWebAuthnCredentials},
		{"WebAuthnCounterRace", testWebAuthnCounterRace},
		{"DeleteUserMFA", testDeleteUserMFA},
		{"Webhooks", testWebhooks},
		{"EventDeliveries", testEventDeliveries},
		{"EventDeliveryLeaseRace", testEventDeliveryLeaseRace},
		{"Connections", testConnections},
		{"ShopConnections", testShopConnections},
		{"OAuthNonces", testOAuthNonces},
		{"SSOConfigs", testSSOConfigs},
		{"SSODiscovery", testSSODiscovery},
		{"SAMLConfigs", testSAMLConfigs},
		{"SAMLAssertionReplay", testSAMLAssertionReplay},
		{"Identities", testIdentities},
		{"ProveEmail", testProveEmail},
		{"SSODomains", testSSODomains},
		{"SSODomainVerifyRace", testSSODomainVerifyRace},
		{"SCIM", testSCIM},
		{"OrgPolicies", testOrgPolicies},
		{"AccessReviews", testAccessReviews},
		{"Lease", testLease},
		{"LeaseRace", testLeaseRace},
		{"RotationRuns", testRotationRuns},
		{"RotationState", testRotationState},
		{"SealedValues", testSealedValues},
		{"SealedColumnChecked", testSealedColumnChecked},
		{"SealedRegistry", testSealedRegistry},
		{"AuditRetention", testAuditRetention},
		{"AuditRetentionEmpty", testAuditRetentionEmpty},
		{"RevokeSessionsBefore", testRevokeSessionsBefore},
		{"PurgeWebhookEventsBefore", testPurgeWebhookEvents},
		{"PurgeBillingAccountsBefore", testPurgeBillingAccounts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore)
		})
	}
}

// epoch is a fixed clock start; stores keep microseconds.
var epoch = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
