package auth

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/notify"
)

// orgWorld is two organizations: A with one member of every built-in
// role, B with an owner and an admin.
type orgWorld struct {
	A, B   string            // organization ids
	tokens map[string]tokens // by user name: ownerA, adminA, operatorA, viewerA, ownerB, memberB
	ids    map[string]string // user ids by name
}

// orgUsers are the users of an orgWorld and their roles.
var orgUsers = []struct{ name, org, role string }{
	{"ownerA", "A", "owner"}, {"adminA", "A", "admin"}, {"operatorA", "A", "operator"}, {"viewerA", "A", "viewer"},
	{"ownerB", "B", "owner"}, {"memberB", "B", "admin"},
}

// orgSetup builds an orgWorld through the API: owners create their
// organizations, invite the others, who accept.
func (te *testEnv) orgSetup(t testing.TB) *orgWorld {
	t.Helper()
	w := &orgWorld{tokens: map[string]tokens{}, ids: map[string]string{}}
	for _, u := range orgUsers {
		tk := te.signUp(t, orgEmail(u.name), testPassword)
		w.tokens[u.name], w.ids[u.name] = tk, tk.UserID
	}
	w.A = te.orgCreate(t, w.tokens["ownerA"].AccessToken, "Alpha")
	w.B = te.orgCreate(t, w.tokens["ownerB"].AccessToken, "Beta")
	for _, u := range orgUsers {
		if u.role == "owner" {
			continue
		}
		org, owner := w.A, "ownerA"
		if u.org == "B" {
			org, owner = w.B, "ownerB"
		}
		te.orgInviteAccept(t, org, w.tokens[owner].AccessToken, orgEmail(u.name), u.role, w.tokens[u.name].AccessToken)
	}
	return w
}

// orgEmail is the address of a test user.
func orgEmail(name string) string { return strings.ToLower(name) + "@example.com" }

func (te *testEnv) orgCreate(t testing.TB, access, name string) string {
	t.Helper()
	var o orgJSON
	extDecodeBody(t, te.do(t, "POST", "/orgs", map[string]string{"name": name}, bearer(access)), http.StatusCreated, &o)
	return o.ID
}

// orgInvite invites email and returns the token from the mailbox.
func (te *testEnv) orgInvite(t testing.TB, org, access, email, role string) string {
	t.Helper()
	rec := te.do(t, "POST", "/orgs/"+org+"/invitations", map[string]string{"email": email, "role": role}, bearer(access))
	extDecodeBody(t, rec, http.StatusCreated, nil)
	msg := te.lastMessage(t, email, notify.KindInvitation)
	if goDuration.MatchString(msg.Text) { // "168h0m0s" before: durations read as people write them
		t.Fatalf("the invitation states its lifetime as Go prints it: %q", msg.Text)
	}
	tok := linkToken(t, msg)
	te.Env.Logs.Plant(tok)
	return tok
}

func (te *testEnv) orgInviteAccept(t testing.TB, org, inviter, email, role, invitee string) {
	t.Helper()
	tok := te.orgInvite(t, org, inviter, email, role)
	rec := te.do(t, "POST", "/invitations/accept", map[string]string{"token": tok}, bearer(invitee))
	extDecodeBody(t, rec, http.StatusOK, nil)
}

// orgRole returns the role of user in org as the members list shows it
// to the owner, or "" if not a member.
func (te *testEnv) orgRole(t testing.TB, org, ownerAccess, userID string) string {
	t.Helper()
	var body struct {
		Members []orgMemberJSON `json:"members"`
	}
	extDecodeBody(t, te.do(t, "GET", "/orgs/"+org+"/members?limit=100", nil, bearer(ownerAccess)), http.StatusOK, &body)
	for _, m := range body.Members {
		if m.UserID == userID {
			return m.Role
		}
	}
	return ""
}

// goDuration matches a duration as Go's String prints it (10m0s, 168h0m0s).
var goDuration = regexp.MustCompile(`\b\d+(h\d+m|m)\d+s\b`)
