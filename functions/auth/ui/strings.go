package ui

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// catalogue is every string the hosted pages show, in English, keyed by a
// message id. Templates read it with {{t "id"}}; the script gets the ids
// starting with "js." (see [Catalogue.Script]). A team translates the pages
// by giving GATEHOUSE_UI_STRINGS a JSON file of {"id": "text"} overrides.
var catalogue = map[string]string{
	"product.default":            "Gatehouse",
	"nav.skip":                   "Skip to the form",
	"nav.signin":                 "Sign in",
	"nav.signup":                 "Create an account",
	"nav.forgot":                 "Forgot your password?",
	"nav.account":                "Account security",
	"nav.support":                "Help and support",
	"field.email":                "E-mail address",
	"field.password":             "Password",
	"field.new_password":         "New password",
	"field.current_password":     "Current password",
	"field.name":                 "Your name (optional)",
	"field.code":                 "Code from your authenticator app",
	"field.recovery_code":        "Recovery code",
	"field.org":                  "Organization ID",
	"signin.title":               "Sign in",
	"signin.password":            "Sign in with a password",
	"signin.submit":              "Sign in",
	"signin.magic":               "E-mail me a sign-in link",
	"signin.magic.submit":        "Send the link",
	"signin.passkey":             "Sign in with a passkey",
	"signin.providers":           "Or continue with",
	"signin.provider":            "Continue with %s",
	"signin.sso":                 "Sign in with your organization's SSO",
	"signin.sso.submit":          "Continue with SSO",
	"signin.no_account":          "No account yet?",
	"signup.title":               "Create an account",
	"signup.intro":               "We will e-mail you a link to confirm your address.",
	"signup.submit":              "Send the confirmation link",
	"confirm.title":              "Confirm your account",
	"confirm.intro":              "Choose a password to finish creating your account.",
	"confirm.submit":             "Create the account",
	"forgot.title":               "Reset your password",
	"forgot.intro":               "We will e-mail you a link to choose a new password.",
	"forgot.submit":              "Send the reset link",
	"reset.title":                "Choose a new password",
	"reset.submit":               "Set the password",
	"magic.title":                "Signing you in",
	"magic.submit":               "Continue",
	"magic.intro":                "Continue to sign in with the link you received.",
	"mfa.title":                  "Confirm it is you",
	"mfa.intro":                  "Your account has a second factor. Use one of them to finish signing in.",
	"mfa.totp.submit":            "Verify the code",
	"mfa.recovery.submit":        "Use the recovery code",
	"mfa.passkey":                "Use a passkey",
	"invite.title":               "Accept the invitation",
	"invite.intro":               "Sign in first, then accept the invitation to join the organization.",
	"invite.submit":              "Accept the invitation",
	"provider_confirm.title":     "Finish creating your account",
	"provider_confirm.submit":    "Create the account",
	"account.title":              "Account security",
	"account.signed_in_as":       "Signed in as",
	"account.mfa_required":       "Your organization requires a second factor. Set up an authenticator app or a passkey below, then sign in again with it.",
	"account.mfa_required.again": "Sign in again",
	"account.sessions":           "Where you are signed in",
	"account.signout":            "Sign out",
	"account.signout_all":        "Sign out everywhere",
	"account.totp":               "Authenticator app",
	"account.totp.enabled":       "An authenticator app is set up.",
	"account.totp.enroll":        "Set up an authenticator app",
	"account.totp.scan":          "Scan this code with your authenticator app, or enter the key by hand, then type the code it shows.",
	"account.totp.qr_alt":        "QR code for your authenticator app",
	"account.totp.key":           "Key",
	"account.totp.confirm":       "Turn on",
	"account.totp.disable":       "Turn off",
	"account.codes":              "Recovery codes",
	"account.codes.once":         "Keep these codes somewhere safe. Each works once, and they are shown only now.",
	"account.codes.left":         "Recovery codes left:",
	"account.codes.new":          "Make new recovery codes",
	"account.passkeys":           "Passkeys",
	"account.passkeys.add":       "Add a passkey",
	"account.passkeys.none":      "No passkeys yet.",
	"account.identities":         "Linked sign-in accounts",
	"account.identities.none":    "No linked accounts.",
	"account.password":           "Change your password",
	"account.password.submit":    "Change the password",
	"account.export":             "Your data",
	"account.export.submit":      "Download a copy of your data",
	"account.delete":             "Delete your account",
	"account.delete.warning":     "This deletes your account and everything it holds. It cannot be undone.",
	"account.delete.submit":      "Delete my account",
	"reauth.title":               "Confirm it is you",
	"reauth.intro":               "This change needs you to confirm your identity again.",
	"reauth.submit":              "Confirm",
	"provider.google":            "Google",
	"provider.github":            "GitHub",
	"js.current":                 "this device",
	"js.revoke":                  "Sign out this session",
	"js.remove":                  "Remove",
	"js.unlink":                  "Unlink",
	"js.passkey":                 "Passkey added",
	"js.error":                   "Something went wrong. Try again.",
	"js.network":                 "The server could not be reached. Check your connection and try again.",
	"js.sent":                    "If the address can receive mail from us, a message is on its way. Check your inbox.",
	"js.saved":                   "Saved.",
	"js.password_changed":        "Your password was changed. Other sessions were signed out.",
	"js.invite_accepted":         "You joined the organization.",
	"js.passkey_added":           "Passkey added.",
	"js.passkey_unsupported":     "This browser cannot use passkeys.",
	"js.confirm_delete":          "Delete your account for good?",
	"js.signed_out":              "You are signed out.",
	"js.reauth_needed":           "Confirm it is you, then try again.",
	"js.invalid_credentials":     "The e-mail address or password is not right.",
	"js.invalid_token":           "The link is invalid or has expired. Ask for a new one.",
	"js.too_many":                "Too many attempts. Wait a moment and try again.",
	"js.weak_password":           "Choose a stronger password.",
	"js.no_token":                "This page needs the link from your e-mail.",
	"js.exported":                "Your data was downloaded.",
	"js.rename":                  "Rename",
	"js.save":                    "Save",
	"js.passkey_name":            "Passkey name",
	"js.sso_required":            "Your organization requires you to sign in through its single sign-on.",
	"js.sso_continue":            "Continue with your organization's SSO",
}

// Catalogue is the pages' strings: the built-in English ones with any
// overrides applied.
type Catalogue map[string]string

// newCatalogue returns the built-in strings with overrides applied. An
// override of an id the pages do not have is an error, so a typo in a
// translation file stops the start instead of silently showing English.
func newCatalogue(overrides map[string]string) (Catalogue, error) {
	c := make(Catalogue, len(catalogue))
	for k, v := range catalogue {
		c[k] = v
	}
	var unknown []string
	for k, v := range overrides {
		if _, ok := c[k]; !ok {
			unknown = append(unknown, k)
			continue
		}
		c[k] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown string ids: %s", strings.Join(unknown, ", "))
	}
	return c, nil
}

// readOverrides reads a JSON object of string overrides from path.
func readOverrides(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// T returns the string id, or the id itself when the catalogue has none.
func (c Catalogue) T(id string) string {
	if s, ok := c[id]; ok {
		return s
	}
	return id
}

// lookup is T for templates: an id the catalogue lacks fails the
// rendering, so a page can never show a raw id (the tests render them all).
func (c Catalogue) lookup(id string) (string, error) {
	s, ok := c[id]
	if !ok {
		return "", fmt.Errorf("no string %q in the catalogue", id)
	}
	return s, nil
}

// Script returns the strings the script shows, the ids starting with "js.".
func (c Catalogue) Script() map[string]string {
	out := map[string]string{}
	for k, v := range c {
		if strings.HasPrefix(k, "js.") {
			out[strings.TrimPrefix(k, "js.")] = v
		}
	}
	return out
}
