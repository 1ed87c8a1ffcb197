package provider

import (
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

const okDefinition = `{"name":"acme_crm","authorization_url":"https://acme.example/authorize",
	"token_url":"https://acme.example/token","scopes":["crm.read"]}`

// A definition is checked field by field; anything doubtful is refused
// with the definition and field named.
//
// Controls: OAUTH-5, APP-1
func TestParseDefinitions(t *testing.T) {
	with := func(field, value string) string {
		return `[` + strings.Replace(okDefinition, `"scopes"`, field+`:`+value+`,"scopes"`, 1) + `]`
	}
	for _, tc := range []struct {
		name, raw string
		https     bool
		want      string // "" for accepted
	}{
		{"minimal", `[` + okDefinition + `]`, true, ""},
		{"unknown field", with(`"client_secret"`, `"x"`), true, "unknown field"},
		{"bad name", `[` + strings.Replace(okDefinition, "acme_crm", "Acme CRM", 1) + `]`, true, "name"},
		{"duplicate", `[` + okDefinition + `,` + okDefinition + `]`, true, "defined twice"},
		{"http when https required", `[` + strings.Replace(okDefinition, "https://acme.example/token", "http://acme.example/token", 1) + `]`, true, "token_url"},
		{"http in dev", `[` + strings.Replace(okDefinition, "https://acme.example/token", "http://127.0.0.1:9/token", 1) + `]`, false, ""},
		{"credentials in URL", with(`"userinfo_url"`, `"https://u:p@acme.example/me"`), true, "userinfo_url"},
		{"relative URL", with(`"revocation_url"`, `"/revoke"`), true, "revocation_url"},
		{"wildcard scope", `[` + strings.Replace(okDefinition, `"crm.read"`, `"*"`, 1) + `]`, true, "scopes"},
		{"scope with a space", `[` + strings.Replace(okDefinition, `"crm.read"`, `"crm.read crm.write"`, 1) + `]`, true, "scopes"},
		{"no scopes", `[` + strings.Replace(okDefinition, `["crm.read"]`, `[]`, 1) + `]`, true, "scopes"},
		{"reserved parameter", with(`"authorization_params"`, `{"redirect_uri":"https://evil.example"}`), true, "authorization_params"},
		{"bad client_auth", with(`"client_auth"`, `"jwt"`), true, "client_auth"},
		{"bad token_placement", with(`"token_placement"`, `"cookie"`), true, "token_placement"},
		{"bad account_field", with(`"account_field"`, `"a b"`), true, "account_field"},
		{"not an array", okDefinition, true, "platform definitions"},
		{"trailing data", `[` + okDefinition + `] []`, true, "trailing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDefinitions([]byte(tc.raw), tc.https)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	ps, err := ParseDefinitions([]byte(with(`"pkce"`, `false`)), true)
	if err != nil || !ps[0].NoPKCE || ps[0].AuthStyle != oauth2.AuthStyleInHeader || ps[0].AccountField != "sub" || ps[0].ScopeSeparator != " " {
		t.Fatalf("defaults: %+v, %v", ps, err)
	}
}

// The built-in platforms that are definitions keep what OAUTH-4 and
// OAUTH-5 require: Google's offline access with consent, least scopes,
// RFC 9207 issuer, client credentials in the form, RFC 7009 revocation.
//
// Controls: OAUTH-4, OAUTH-5
func TestCatalogueBuiltins(t *testing.T) {
	byName := map[string]Platform{}
	for _, p := range Builtin() {
		byName[p.Name] = p
	}
	if len(byName) != 5 {
		t.Fatalf("%d built-in platforms, want 5", len(byName))
	}
	for _, name := range []string{GoogleAds, GoogleBusinessProfile} {
		p := byName[name]
		if p.AuthParams["access_type"] != "offline" || p.AuthParams["prompt"] != "consent" || p.Issuer != "https://accounts.google.com" ||
			p.Revocation != RevokeRFC7009 || p.AuthStyle != oauth2.AuthStyleInParams || len(p.Scopes) != 1 || p.NoPKCE {
			t.Fatalf("%s: %+v", name, p)
		}
	}
	if p := byName[LinkedIn]; strings.Join(p.Scopes, " ") != "r_ads r_ads_reporting" || p.Revocation != RevokeRFC7009 {
		t.Fatalf("linkedin: %+v", p)
	}
	if !byName[MetaAds].LongLived || !byName[Shopify].PerShop {
		t.Fatal("meta_ads or shopify lost its own behaviour")
	}
}

func FuzzParseDefinitions(f *testing.F) {
	f.Add([]byte(`[` + okDefinition + `]`))
	f.Add(catalogueJSON)
	f.Add([]byte(`[{"name":"x"}]`))
	f.Add([]byte(`[{"name":"ab","authorization_url":"https://a","token_url":"https://b","scopes":["s"],"authorization_params":{"k":"v"}}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ps, err := ParseDefinitions(raw, true)
		if err != nil {
			return
		}
		for _, p := range ps {
			if !nameRE.MatchString(p.Name) || len(p.Scopes) == 0 || p.AuthURL == "" || p.TokenURL == "" {
				t.Fatalf("accepted %+v", p)
			}
		}
	})
}

func FuzzAccountField(f *testing.F) {
	for _, s := range []string{`{"sub":"acct-1"}`, `{"id":12345}`, `{"sub":1.5}`, `{"sub":""}`, `{"sub":null}`, `[]`, `{"sub":"a\u0000b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, field := range []string{"sub", "id"} {
			got, err := accountField(strings.NewReader(string(raw)), field)
			if err == nil && (got == "" || len(got) > 200) {
				t.Fatalf("accepted %q", got)
			}
		}
	})
}

func TestAccountField(t *testing.T) {
	for _, tc := range []struct{ body, field, want string }{
		{`{"sub":"acct-1"}`, "sub", "acct-1"},
		{`{"id":12345678901}`, "id", "12345678901"},
		{`{"id":1.5}`, "id", ""},
		{`{"sub":{"x":1}}`, "sub", ""},
		{`{"other":"x"}`, "sub", ""},
		{`{"sub":"bad\u0007bell"}`, "sub", ""},
		{`not json`, "sub", ""},
	} {
		got, err := accountField(strings.NewReader(tc.body), tc.field)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("%s: %q, %v; want %q", tc.body, got, err, tc.want)
		}
	}
}
