package ophicleide

import (
	"context"
	"testing"
)

func TestRoles(t *testing.T) {
	for _, c := range []struct {
		have, need Role
		want       bool
	}{
		{RoleAdmin, RoleWrite, true}, {RoleAdmin, RoleRead, true}, {RoleWrite, RoleRead, true}, {RoleWrite, RoleWrite, true},
		{RoleRead, RoleWrite, false}, {RoleWrite, RoleAdmin, false}, {"root", RoleRead, false}, {RoleAdmin, "root", false},
	} {
		if got := c.have.Allows(c.need); got != c.want {
			t.Errorf("%q allows %q: %v, want %v", c.have, c.need, got, c.want)
		}
	}
	alice := Principal{Name: "alice", Role: RoleWrite}
	if !alice.Owns("alice") || alice.Owns("bob") || alice.Owns("") {
		t.Error("a write key owns only its own models")
	}
	if anon := (Principal{Role: RoleRead, Anonymous: true}); anon.Owns("") {
		t.Error("an anonymous reader owns the models of no one")
	}
	if p := PrincipalFrom(context.Background()); !p.Admin() || p.Name != "" {
		t.Errorf("no principal in the context: %+v, want the process (an admin)", p)
	}
	if p := PrincipalFrom(WithPrincipal(context.Background(), alice)); p != alice {
		t.Errorf("got %+v", p)
	}
}
