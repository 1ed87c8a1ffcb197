package oauthcallback

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/samlsp"

	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// FuzzSAMLResponse drives the ACS parser (parseSAMLResponse) with
// attacker-chosen SAMLResponse values. The seeds are an honest signed
// response for mallory@, the same unsigned, wrapped and tampered variants
// and malformed encodings. Whatever the input, the parser returns without
// panicking, fails with a stable code, and accepts nothing but an
// assertion the identity provider signed: the only one it ever signed
// names mallory@.
//
// Controls: AUTH-13
func FuzzSAMLResponse(f *testing.F) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	idp := newTestIdP(f, idpEntityID, func() time.Time { return now })
	md, err := samlsp.ParseMetadata([]byte(idp.metadata(f)))
	if err != nil {
		f.Fatal(err)
	}
	meta, _ := url.Parse(callbackBase + "/saml/org-a/metadata")
	acs, _ := url.Parse(callbackBase + "/saml/org-a/acs")
	const reqID = "_0123456789abcdef"
	spec := func(email string, unsigned bool) assertionSpec {
		return assertionSpec{email: email, audience: meta.String(), recipient: acs.String(), inResponseTo: reqID, unsigned: unsigned}
	}
	signed := func() *etree.Element { return idp.assertion(f, spec("mallory@corp.example.com", false)) }
	evil := func() *etree.Element { return idp.assertion(f, spec("emp@corp.example.com", true)) }
	f.Add(encodeDoc(f, idp.response(acs.String(), reqID, signed())))
	f.Add(encodeDoc(f, idp.response(acs.String(), reqID, evil())))
	f.Add(encodeDoc(f, idp.response(acs.String(), reqID, evil(), signed())))
	wrapped := evil()
	inner := signed()
	wrapped.CreateAttr("ID", inner.SelectAttrValue("ID", ""))
	wrapped.AddChild(inner)
	f.Add(encodeDoc(f, idp.response(acs.String(), reqID, wrapped)))
	tampered := signed()
	tampered.FindElement("./Subject/NameID").SetText("emp@corp.example.com")
	f.Add(encodeDoc(f, idp.response(acs.String(), reqID, tampered)))
	for _, s := range []string{"", "!!!", base64.StdEncoding.EncodeToString([]byte("<x/>")),
		base64.StdEncoding.EncodeToString([]byte(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>`)),
		base64.StdEncoding.EncodeToString([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sp := newSAMLSP(md, meta, acs, false, now, nil)
		a, err := parseSAMLResponse(sp, url.Values{"SAMLResponse": {in}}, []string{reqID})
		if err != nil {
			var fe *flowError
			if !errors.As(err, &fe) || fe.code == "" || strings.ContainsAny(fe.code, " \n") {
				t.Fatalf("error without a stable code: %v", err)
			}
			return
		}
		if a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Value != "mallory@corp.example.com" {
			t.Fatalf("accepted an assertion the IdP never signed: %+v", a.Subject)
		}
		id, err := samlIdentity(a)
		if err != nil || id.email != "mallory@corp.example.com" {
			t.Fatalf("identity of the signed assertion: %+v, %v", id, err)
		}
	})
}

// failingCache is a replay cache whose store cannot record.
type failingCache struct{}

func (failingCache) Consume(string, time.Time) error {
	return &storeError{err: errors.New("database unavailable")}
}

// A replay cache that cannot record refuses the assertion as unavailable
// (503): the sign-in fails closed, never accepts an unrecorded assertion.
//
// Controls: AUTH-13
func TestSAMLReplayCacheFailsClosed(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	idp := newTestIdP(t, idpEntityID, func() time.Time { return now })
	md, err := samlsp.ParseMetadata([]byte(idp.metadata(t)))
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := url.Parse(callbackBase + "/saml/org-a/metadata")
	acs, _ := url.Parse(callbackBase + "/saml/org-a/acs")
	resp := encodeDoc(t, idp.response(acs.String(), "_r", idp.assertion(t, assertionSpec{email: "emp@corp.example.com",
		audience: meta.String(), recipient: acs.String(), inResponseTo: "_r"})))
	if _, err := parseSAMLResponse(newSAMLSP(md, meta, acs, false, now, nil), url.Values{"SAMLResponse": {resp}}, []string{"_r"}); err != nil {
		t.Fatalf("honest response without a cache: %v", err)
	}
	_, err = parseSAMLResponse(newSAMLSP(md, meta, acs, false, now, failingCache{}), url.Values{"SAMLResponse": {resp}}, []string{"_r"})
	var fe *flowError
	if !errors.As(err, &fe) || fe.code != "unavailable" {
		t.Fatalf("cache failure: %v", err)
	}
	var we *web.Error
	if !errors.As(samlRefusal(fe.code, fe.cause), &we) || we.Status != http.StatusServiceUnavailable {
		t.Fatalf("answer to a cache failure: %v", samlRefusal(fe.code, fe.cause))
	}
}
