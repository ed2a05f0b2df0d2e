package ophicleide

import "context"

// Role is what a key may do. Roles are ordered: admin allows everything
// write does, write everything read does.
type Role string

// Roles of keys (the keys file's second column).
const (
	RoleRead  Role = "read"  // every GET, POST /queries, the read-only model endpoints
	RoleWrite Role = "write" // also create and import models, delete and export its own
	RoleAdmin Role = "admin" // everything, any model
)

// rank orders the roles; an unknown role ranks below read.
func (r Role) rank() int {
	switch r {
	case RoleRead:
		return 1
	case RoleWrite:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a caller with role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

// Principal is who makes a request: the name of the key it carried (the
// owner recorded on what it creates) and its role. A server without keys
// (open, on loopback) makes every request an admin named "" (no owner
// recorded); --public-read makes keyless requests Anonymous readers,
// told apart by Addr (the client address, for per-client rate limits).
type Principal struct {
	Name      string
	Role      Role
	Anonymous bool
	Addr      string
}

// Admin reports whether p may act on any model.
func (p Principal) Admin() bool { return p.Role == RoleAdmin }

// Owns reports whether p may see and change what owner created: admins
// and the owner itself (an empty owner, a model made before keys, is
// only the admins').
func (p Principal) Owns(owner string) bool {
	return p.Admin() || (!p.Anonymous && p.Name != "" && p.Name == owner)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p (the HTTP adapter sets it for every
// request; services read it).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal ctx carries. A context without one
// is the process itself (workers, tests, an open server): an admin with
// no name.
func PrincipalFrom(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p
	}
	return Principal{Role: RoleAdmin}
}
