package service

import (
	"context"
	"fmt"
	"io"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bytesize"
)

// Access control, from the principal in the request's context
// (ophicleide.PrincipalFrom: none is the process, an admin named ""):
//
//   - Owners. Create and Import record Model.Owner = the principal's
//     name ("" for the process and anonymous callers); Query records
//     Query.Owner the same way.
//   - Changes. Create and Import need the write or admin role (a read
//     or anonymous principal is EFORBIDDEN). Delete and Export: an
//     admin any model, a write key only the models it owns
//     (Principal.Owns), else EFORBIDDEN; a read or anonymous principal
//     never (checked before the model is looked up).
//   - Model reads (FindModel, PageModels). Every principal sees every
//     model, but to one that does not own it (Principal.Owns is false:
//     not an admin, not the owner) a model shows no Owner, URLs as an
//     empty list (the 2016 page iterates it), no Callback, and no
//     Stats.Sources (whose entries name the source URLs); the rest
//     (name, status, parameters, progress, the totals of its stats,
//     upload names, error) stays.
//   - Query history (FindQuery, PageQueries). An admin sees every
//     query; any other principal only the queries with its own owner
//     name: a keyed reader or writer its own, an anonymous caller those
//     with no owner (what an open server and --public-read callers
//     record). A query someone else asked is ENOTFOUND, as if absent.
//   - Quotas (Config.MaxJobsPerKey, MaxBytesPerKey), per owner, for
//     every principal but admins (the process included): Create is
//     ELIMITED while the owner has MaxJobsPerKey models queued or
//     training, and Create and Import are EFULL when the owner's stored
//     bytes (uploads still kept plus vectors: ModelStore.Usage) are at
//     the quota, or would be above it with the request's uploads (when
//     their size is known: seekable readers) or the vectors an import
//     writes (counted as they are written). Usage is read before the
//     model is stored, not atomically with it: concurrent requests of
//     one key may pass the check together, and a trained model's
//     vectors, unknown before training, may take an owner above the
//     byte quota once (its next model is then refused).

// ownerName is the owner recorded for what p creates and asks.
func ownerName(p ophicleide.Principal) string {
	if p.Anonymous {
		return ""
	}
	return p.Name
}

// mayWrite refuses a principal below the write role (anonymous ones
// included) the action, e.g. "creating a model".
func mayWrite(p ophicleide.Principal, action string) error {
	if p.Anonymous || !p.Role.Allows(ophicleide.RoleWrite) {
		return ophicleide.Errorf(ophicleide.EFORBIDDEN, "%s needs a key with the write or admin role", action)
	}
	return nil
}

// mayChange refuses p the verb ("delete", "export") on m unless p is an
// admin or a writer that owns m.
func mayChange(p ophicleide.Principal, m *ophicleide.Model, verb string) error {
	if !p.Owns(m.Owner) {
		return ophicleide.Errorf(ophicleide.EFORBIDDEN, "model %q belongs to another key; only its owner or an admin may %s it", m.Name, verb)
	}
	return nil
}

// visible returns m as p may see it: m itself for its owner and admins,
// else a copy without Owner, URLs (an empty list), Callback and
// Stats.Sources.
func visible(p ophicleide.Principal, m *ophicleide.Model) *ophicleide.Model {
	if p.Owns(m.Owner) {
		return m
	}
	r := *m
	r.Owner, r.URLs, r.Callback = "", []string{}, ""
	if m.Stats != nil {
		st := *m.Stats
		st.Sources = nil
		r.Stats = &st
	}
	return &r
}

// queryFilter is the part of the history p may see.
func queryFilter(p ophicleide.Principal) ophicleide.QueryFilter {
	if p.Admin() {
		return ophicleide.QueryFilter{}
	}
	return ophicleide.QueryFilter{ByOwner: true, Owner: ownerName(p)}
}

// quota checks p's quotas before a model is stored: job (a model with a
// training job) against MaxJobsPerKey, adding (bytes the request stores
// now, 0 if unknown) against MaxBytesPerKey. It returns how many bytes
// the owner may still store (-1: no limit).
func (s *Models) quota(ctx context.Context, p ophicleide.Principal, job bool, adding int64) (int64, error) {
	maxJobs, maxBytes := s.cfg.MaxJobsPerKey, s.cfg.MaxBytesPerKey
	if p.Admin() || ((!job || maxJobs <= 0) && maxBytes <= 0) {
		return -1, nil
	}
	u, err := s.store.Usage(ctx, ownerName(p))
	if err != nil {
		return 0, err
	}
	if job && maxJobs > 0 && u.Active >= maxJobs {
		msg := fmt.Sprintf("this key has %d models queued or training, the limit; wait for one to end", u.Active)
		if u.Active > maxJobs {
			msg = fmt.Sprintf("this key has %d models queued or training, above its limit of %d; wait for them to end", u.Active, maxJobs)
		}
		return 0, &ophicleide.Error{Code: ophicleide.ELIMITED, Message: msg}
	}
	if maxBytes <= 0 {
		return -1, nil
	}
	if u.Bytes >= maxBytes {
		return 0, ophicleide.Errorf(ophicleide.EFULL, "this key stores %s of uploads and vectors, its quota of %s: nothing was stored; delete some of its models to make room",
			bytesize.Format(u.Bytes), bytesize.Format(maxBytes))
	}
	if u.Bytes+adding > maxBytes {
		return 0, ophicleide.Errorf(ophicleide.EFULL, "this key stores %s of uploads and vectors; with these uploads (%s) it would exceed its quota of %s: nothing was stored; delete some of its models to make room",
			bytesize.Format(u.Bytes), bytesize.Format(adding), bytesize.Format(maxBytes))
	}
	return maxBytes - u.Bytes, nil
}

// quotaWriter fails a write beyond left bytes with the byte quota's
// EFULL.
type quotaWriter struct {
	w     io.Writer
	left  int64
	quota int64
}

func (q *quotaWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > q.left {
		return 0, ophicleide.Errorf(ophicleide.EFULL, "these vectors would take this key beyond its quota of %s of uploads and vectors: nothing was stored; delete some of its models to make room",
			bytesize.Format(q.quota))
	}
	n, err := q.w.Write(p)
	q.left -= int64(n)
	return n, err
}

// uploadBytes is the size left to read of the uploads that can tell
// (io.Seeker), 0 for the others.
func uploadBytes(uploads map[string]io.Reader) (int64, error) {
	var n int64
	for name, u := range uploads {
		sk, ok := u.(io.Seeker)
		if !ok {
			continue
		}
		cur, err := sk.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, fmt.Errorf("upload %q: %w", name, err)
		}
		end, err := sk.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, fmt.Errorf("upload %q: %w", name, err)
		}
		if _, err := sk.Seek(cur, io.SeekStart); err != nil {
			return 0, fmt.Errorf("upload %q: %w", name, err)
		}
		n += end - cur
	}
	return n, nil
}
