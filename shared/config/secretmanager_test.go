package config

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	refOK       = "sm://projects/gatehouse-test/secrets/stripe-webhook/versions/latest"
	refNoCRC    = "sm://projects/gatehouse-test/secrets/pepper/versions/3"
	refBadCRC   = "sm://projects/gatehouse-test/secrets/tampered/versions/1"
	refDenied   = "sm://projects/gatehouse-test/secrets/other-team/versions/latest"
	refMissing  = "sm://projects/gatehouse-test/secrets/missing/versions/latest"
	refEmpty    = "sm://projects/gatehouse-test/secrets/empty/versions/1"
	refNotInt   = "sm://projects/gatehouse-test/secrets/port/versions/1"
	deniedText  = "Permission 'secretmanager.versions.access' denied"
	payloadText = "whsec_" + testSecretValue
)

func fakeVersions() map[string]fakeVersion {
	name := func(ref string) string { return strings.TrimPrefix(ref, SecretRefPrefix) }
	tampered := []byte("tampered-" + testSecretValue)
	return map[string]fakeVersion{
		name(refOK):     {data: []byte(payloadText), crc: crcOf([]byte(payloadText))},
		name(refNoCRC):  {data: []byte("pepper-" + testSecretValue)},
		name(refBadCRC): {data: tampered, crc: crcOf([]byte("original"))},
		name(refDenied): {code: codes.PermissionDenied, message: deniedText},
		name(refEmpty):  {data: nil},
		name(refNotInt): {data: []byte("not-a-port-" + testSecretValue)},
	}
}

// Controls: CRED-9, APP-5
func TestSecretManagerAccess(t *testing.T) {
	sm, _ := startFakeSecretManager(t, fakeVersions())
	tests := []struct {
		name     string
		ref      string
		want     string
		wantCode codes.Code
		wantErr  error
	}{
		{name: "success with checksum", ref: refOK, want: payloadText},
		{name: "success without checksum", ref: refNoCRC, want: "pepper-" + testSecretValue},
		{name: "not found", ref: refMissing, wantCode: codes.NotFound},
		{name: "permission denied", ref: refDenied, wantCode: codes.PermissionDenied},
		{name: "checksum mismatch", ref: refBadCRC, wantErr: ErrChecksum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := ParseSecretRef(tc.ref)
			if err != nil {
				t.Fatalf("ParseSecretRef: %v", err)
			}
			got, err := sm.Access(context.Background(), ref.Name())
			switch {
			case tc.wantCode != codes.OK:
				if status.Code(err) != tc.wantCode {
					t.Fatalf("Access error = %v, want code %v", err, tc.wantCode)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Access error = %v, want %v", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), testSecretValue) {
					t.Fatalf("error exposes the payload: %v", err)
				}
			case err != nil:
				t.Fatalf("Access: %v", err)
			case string(got) != tc.want:
				t.Fatalf("Access = %q, want %q", got, tc.want)
			}
		})
	}
}

// Controls: CRED-9, APP-5, AUDIT-2, CRED-4
func TestLoaderResolvesSecretManagerReferences(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		read    func(l *Loader) string
		want    string
		wantErr []string // substrings of Err(), in any order; nil means no error
		kind    error
	}{
		{
			name: "secret in prod",
			env:  map[string]string{EnvVar: "prod", "GATEHOUSE_HOOK": refOK},
			read: func(l *Loader) string { return l.Secret("GATEHOUSE_HOOK").Reveal() },
			want: payloadText,
		},
		{
			name: "non-secret variable from secret manager",
			env:  map[string]string{"GATEHOUSE_NAME": refNoCRC},
			read: func(l *Loader) string { return l.String("GATEHOUSE_NAME", "") },
			want: "pepper-" + testSecretValue,
		},
		{
			name:    "not found fails closed",
			env:     map[string]string{EnvVar: "prod", "GATEHOUSE_HOOK": refMissing},
			read:    func(l *Loader) string { return l.Secret("GATEHOUSE_HOOK").Reveal() },
			wantErr: []string{"GATEHOUSE_HOOK: read " + refMissing, "NotFound"},
			kind:    ErrSecretAccess,
		},
		{
			name:    "permission denied fails closed",
			env:     map[string]string{EnvVar: "prod", "GATEHOUSE_HOOK": refDenied},
			read:    func(l *Loader) string { return l.Secret("GATEHOUSE_HOOK").Reveal() },
			wantErr: []string{"GATEHOUSE_HOOK: read " + refDenied, deniedText},
			kind:    ErrSecretAccess,
		},
		{
			name:    "checksum mismatch fails closed",
			env:     map[string]string{EnvVar: "prod", "GATEHOUSE_HOOK": refBadCRC},
			read:    func(l *Loader) string { return l.Secret("GATEHOUSE_HOOK").Reveal() },
			wantErr: []string{"GATEHOUSE_HOOK: read " + refBadCRC, "checksum mismatch"},
			kind:    ErrChecksum,
		},
		{
			name:    "empty payload fails closed",
			env:     map[string]string{"GATEHOUSE_HOOK": refEmpty},
			read:    func(l *Loader) string { return l.OptionalSecret("GATEHOUSE_HOOK").Reveal() },
			wantErr: []string{"GATEHOUSE_HOOK: read " + refEmpty + ": empty payload"},
			kind:    ErrSecretAccess,
		},
		{
			name:    "malformed reference fails closed",
			env:     map[string]string{EnvVar: "prod", "GATEHOUSE_HOOK": "sm://projects/p/secrets/s"},
			read:    func(l *Loader) string { return l.Secret("GATEHOUSE_HOOK").Reveal() },
			wantErr: []string{"GATEHOUSE_HOOK: malformed Secret Manager reference"},
			kind:    ErrBadReference,
		},
		{
			name:    "payload of a bad non-secret value is withheld",
			env:     map[string]string{"GATEHOUSE_PORT": refNotInt},
			read:    func(l *Loader) string { l.Int("GATEHOUSE_PORT", 1); return "" },
			wantErr: []string{"GATEHOUSE_PORT: not an integer: (value from Secret Manager withheld)"},
			kind:    ErrInvalid,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sm, fake := startFakeSecretManager(t, fakeVersions())
			l := NewLoader(context.Background(), mapLookup(tc.env), sm)
			l.decl = nil
			got := tc.read(l)
			err := l.Err()
			if tc.wantErr == nil {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q, nil", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Err() = nil, want an error (value %q)", got)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Err() = %q, want it to contain %q", err, w)
				}
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("Err() = %v, want errors.Is %v", err, tc.kind)
			}
			if strings.Contains(err.Error(), testSecretValue) || strings.Contains(got, testSecretValue) {
				t.Errorf("secret payload exposed: err %q, value %q", err, got)
			}
			if tc.kind == ErrBadReference && fake.callCount() != 0 {
				t.Errorf("malformed reference reached Secret Manager")
			}
		})
	}
}

// Controls: CRED-9
func TestLoaderReadsEachReferenceOnce(t *testing.T) {
	sm, fake := startFakeSecretManager(t, fakeVersions())
	l := NewLoader(context.Background(), mapLookup(map[string]string{"GATEHOUSE_HOOK": refMissing}), sm)
	l.decl = nil
	l.Secret("GATEHOUSE_HOOK")
	l.OptionalSecret("GATEHOUSE_HOOK")
	if n := fake.callCount(); n != 1 {
		t.Fatalf("Secret Manager called %d times, want 1", n)
	}
	if n := len(strings.Split(l.Err().Error(), "\n")); n != 1 {
		t.Fatalf("Err() has %d lines, want 1: %v", n, l.Err())
	}
}

func TestParseSecretRef(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string // resource name; "" means an error
	}{
		{"latest", "sm://projects/my-project/secrets/db-url/versions/latest", "projects/my-project/secrets/db-url/versions/latest"},
		{"number", "sm://projects/my-project/secrets/DB_URL/versions/12", "projects/my-project/secrets/DB_URL/versions/12"},
		{"project number", "sm://projects/123456789012/secrets/s/versions/1", "projects/123456789012/secrets/s/versions/1"},
		{"domain-scoped project", "sm://projects/example.com:my-project/secrets/s/versions/1", "projects/example.com:my-project/secrets/s/versions/1"},
		{"no prefix", "projects/my-project/secrets/s/versions/1", ""},
		{"missing version", "sm://projects/my-project/secrets/s", ""},
		{"version zero", "sm://projects/my-project/secrets/s/versions/0", ""},
		{"version alias", "sm://projects/my-project/secrets/s/versions/current", ""},
		{"extra segment", "sm://projects/my-project/secrets/s/versions/1/x", ""},
		{"traversal", "sm://projects/my-project/secrets/../versions/1", ""},
		{"upper-case project", "sm://projects/My-Project/secrets/s/versions/1", ""},
		{"query", "sm://projects/my-project/secrets/s/versions/1?x=y", ""},
		{"wrong keyword", "sm://projects/my-project/keys/s/versions/1", ""},
		{"empty secret", "sm://projects/my-project/secrets//versions/1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := ParseSecretRef(tc.value)
			if tc.want == "" {
				if !errors.Is(err, ErrBadReference) {
					t.Fatalf("ParseSecretRef(%q) = %v, %v; want ErrBadReference", tc.value, ref, err)
				}
				return
			}
			if err != nil || ref.Name() != tc.want {
				t.Fatalf("ParseSecretRef(%q) = %q, %v; want %q", tc.value, ref.Name(), err, tc.want)
			}
		})
	}
}

func FuzzParseSecretRef(f *testing.F) {
	for _, s := range []string{refOK, refNoCRC, "sm://projects/p/secrets/s/versions/0", "sm://", "sm://projects/a:b:c/secrets/s/versions/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		ref, err := ParseSecretRef(value)
		if err != nil {
			if !errors.Is(err, ErrBadReference) {
				t.Fatalf("error %v is not ErrBadReference", err)
			}
			return
		}
		if SecretRefPrefix+ref.Name() != value {
			t.Fatalf("accepted %q but Name() = %q", value, ref.Name())
		}
		again, err := ParseSecretRef(SecretRefPrefix + ref.Name())
		if err != nil || again != ref {
			t.Fatalf("round trip of %q: %v, %v", value, again, err)
		}
	})
}
