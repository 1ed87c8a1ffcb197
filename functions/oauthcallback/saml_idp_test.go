package oauthcallback

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"io"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// testIdP is a SAML identity provider in the test process: its own RSA key
// and self-signed certificate, metadata, and responses signed with
// goxmldsig exactly as an IdP signs them (enveloped, exclusive c14n,
// RSA-SHA256), which each test can then alter.
type testIdP struct {
	entityID string
	key      *rsa.PrivateKey
	cert     *x509.Certificate
	now      func() time.Time
}

func newTestIdP(t testing.TB, entityID string, now func() time.Time) *testIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test idp"},
		NotBefore: now().Add(-24 * time.Hour), NotAfter: now().Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testIdP{entityID: entityID, key: key, cert: cert, now: now}
}

// metadata is the IdP's metadata document.
func (p *testIdP) metadata(t testing.TB) string {
	t.Helper()
	md := saml.EntityDescriptor{EntityID: p.entityID, IDPSSODescriptors: []saml.IDPSSODescriptor{{
		SSODescriptor: saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{
			ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
			KeyDescriptors: []saml.KeyDescriptor{{Use: "signing", KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{
				X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(p.cert.Raw)}}}}}}},
			NameIDFormats: []saml.NameIDFormat{saml.EmailAddressNameIDFormat}},
		SingleSignOnServices: []saml.Endpoint{
			{Binding: saml.HTTPRedirectBinding, Location: "https://idp.example.net/sso"},
			{Binding: saml.HTTPPostBinding, Location: "https://idp.example.net/sso"}},
	}}}
	b, err := xml.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// samlAuthn is what the IdP reads from an HTTP-Redirect AuthnRequest.
type samlAuthn struct {
	ID, ACS, Issuer, RelayState string
}

// readAuthnRequest decodes the AuthnRequest of a redirect to the IdP.
func readAuthnRequest(t testing.TB, location string) samlAuthn {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil || u.Host != "idp.example.net" {
		t.Fatalf("not a redirect to the IdP: %q", location)
	}
	raw, err := base64.StdEncoding.DecodeString(u.Query().Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	inflated, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var req saml.AuthnRequest
	if err := xml.Unmarshal(inflated, &req); err != nil {
		t.Fatal(err)
	}
	issuer := ""
	if req.Issuer != nil {
		issuer = req.Issuer.Value
	}
	return samlAuthn{ID: req.ID, ACS: req.AssertionConsumerServiceURL, Issuer: issuer, RelayState: u.Query().Get("RelayState")}
}

// assertionSpec is one response to make. Zero fields take the values an
// honest IdP would use for req.
type assertionSpec struct {
	email        string
	audience     string // default: the request's issuer (the SP's entity id)
	recipient    string // default: the request's ACS URL
	inResponseTo string
	validFor     time.Duration // default 5 minutes
	unsigned     bool
}

func randomXMLID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "_" + hex.EncodeToString(b)
}

// assertion builds the assertion of spec, signed unless spec.unsigned.
func (p *testIdP) assertion(t testing.TB, spec assertionSpec) *etree.Element {
	t.Helper()
	now := p.now()
	valid := spec.validFor
	if valid == 0 {
		valid = 5 * time.Minute
	}
	a := &saml.Assertion{ID: randomXMLID(), IssueInstant: now, Version: "2.0",
		Issuer: saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: p.entityID},
		Subject: &saml.Subject{NameID: &saml.NameID{Format: string(saml.EmailAddressNameIDFormat), Value: spec.email},
			SubjectConfirmations: []saml.SubjectConfirmation{{Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &saml.SubjectConfirmationData{InResponseTo: spec.inResponseTo,
					NotOnOrAfter: now.Add(valid), Recipient: spec.recipient}}}},
		Conditions: &saml.Conditions{NotBefore: now.Add(-time.Minute), NotOnOrAfter: now.Add(valid),
			AudienceRestrictions: []saml.AudienceRestriction{{Audience: saml.Audience{Value: spec.audience}}}},
		AuthnStatements: []saml.AuthnStatement{{AuthnInstant: now, SessionIndex: randomXMLID(),
			AuthnContext: saml.AuthnContext{AuthnContextClassRef: &saml.AuthnContextClassRef{
				Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}}}},
		AttributeStatements: []saml.AttributeStatement{{Attributes: []saml.Attribute{
			{Name: "email", NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
				Values: []saml.AttributeValue{{Type: "xs:string", Value: spec.email}}},
			{Name: "displayName", NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
				Values: []saml.AttributeValue{{Type: "xs:string", Value: "Test Employee"}}}}}},
	}
	if spec.unsigned {
		return a.Element()
	}
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{
		Certificate: [][]byte{p.cert.Raw}, PrivateKey: p.key}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(a.Element())
	if err != nil {
		t.Fatal(err)
	}
	a.Signature = signed.Child[len(signed.Child)-1].(*etree.Element)
	return a.Element()
}

// response wraps assertions (signed or not, as built) in an unsigned
// Response to destination, and returns the document.
func (p *testIdP) response(destination, inResponseTo string, assertions ...*etree.Element) *etree.Document {
	r := &saml.Response{ID: randomXMLID(), InResponseTo: inResponseTo, Version: "2.0", IssueInstant: p.now(),
		Destination: destination, Issuer: &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: p.entityID},
		Status: saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}}}
	el := r.Element()
	for _, a := range assertions {
		el.AddChild(a)
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	return doc
}

// respond answers req as an honest IdP would, for spec (its zero fields
// filled from req), and returns the base64 SAMLResponse.
func (p *testIdP) respond(t testing.TB, req samlAuthn, spec assertionSpec) string {
	t.Helper()
	if spec.audience == "" {
		spec.audience = req.Issuer
	}
	if spec.recipient == "" {
		spec.recipient = req.ACS
	}
	if spec.inResponseTo == "" {
		spec.inResponseTo = req.ID
	}
	return encodeDoc(t, p.response(req.ACS, spec.inResponseTo, p.assertion(t, spec)))
}

func encodeDoc(t testing.TB, doc *etree.Document) string {
	t.Helper()
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}
