package storetest

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// testQueries: the query history (CreateQuery, FindQuery, PageQueries,
// TrimQueries) and its ties to models.
func testQueries(t *testing.T, open opener) {
	// newQuery returns a query of model m (a model of its own if nil).
	newQuery := func(t *testing.T, s ophicleide.Store, m *ophicleide.Model, age time.Duration) *ophicleide.Query {
		t.Helper()
		if m == nil {
			m = NewModel(0)
			mustCreate(t, s, m, nil)
		}
		return &ophicleide.Query{
			ID: NewID(), Word: "darcy", ModelID: m.ID, ModelName: m.Name,
			Results: []ophicleide.Result{{Word: "bingley", Score: 0.8125}, {Word: "elizabeth", Score: 0.1 + 0.2}},
			Created: base.Add(age),
		}
	}
	mustQuery := func(t *testing.T, s ophicleide.Store, q *ophicleide.Query) {
		t.Helper()
		if err := s.CreateQuery(ctx(t), q); err != nil {
			t.Fatalf("CreateQuery: %v", err)
		}
	}
	wantQuery := func(t *testing.T, got, want *ophicleide.Query) {
		t.Helper()
		if !sameTime(got.Created, want.Created) {
			t.Errorf("Created %v, want %v", got.Created, want.Created)
		}
		g, w := *got, *want
		g.Created, w.Created = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("query\n got %+v\nwant %+v", g, w)
		}
	}
	byAge := func(qs []*ophicleide.Query) []*ophicleide.Query {
		qs = slices.Clone(qs)
		sortNewestFirst(qs, func(q *ophicleide.Query) (time.Time, string) { return q.Created, q.ID })
		return qs
	}

	t.Run("CreateFind", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		q := newQuery(t, s, nil, 0)
		mustQuery(t, s, q)
		got, err := s.FindQuery(ctx(t), q.ID)
		if err != nil {
			t.Fatalf("FindQuery: %v", err)
		}
		wantQuery(t, got, q)
		_, err = s.FindQuery(ctx(t), NewID())
		wantCode(t, "FindQuery of an unknown ID", err, ophicleide.ENOTFOUND)
		dup := newQuery(t, s, nil, time.Second)
		dup.ID = q.ID
		wantCode(t, "CreateQuery of an existing ID", s.CreateQuery(ctx(t), dup), ophicleide.ECONFLICT)
		orphan := newQuery(t, s, nil, 0)
		orphan.ModelID = NewID()
		wantCode(t, "CreateQuery of an unknown model", s.CreateQuery(ctx(t), orphan), ophicleide.ENOTFOUND)
		_, err = s.FindQuery(ctx(t), orphan.ID)
		wantCode(t, "FindQuery of a query refused", err, ophicleide.ENOTFOUND)
	})

	// QueryEdges: the order of checks in CreateQuery, and TrimQueries'
	// bounds.
	t.Run("QueryEdges", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		page, err := s.PageQueries(ctx(t), ophicleide.QueryFilter{Model: NewID()}, ophicleide.Page{})
		if err != nil || page.Queries == nil || len(page.Queries) != 0 || page.Next != "" {
			t.Fatalf("PageQueries of an unknown model = %+v, %v; want an empty, non-nil list", page, err)
		}
		q := newQuery(t, s, nil, 0)
		q.ID = ""
		wantField(t, "CreateQuery without an ID", s.CreateQuery(ctx(t), q), ophicleide.EINVALID, "id")
		q.ID = NewID()
		mustQuery(t, s, q)
		dup := *q
		dup.ModelID, dup.Word = NewID(), "wickham"
		wantCode(t, "CreateQuery of an existing ID for an unknown model", s.CreateQuery(ctx(t), &dup), ophicleide.ECONFLICT)
		got, err := s.FindQuery(ctx(t), q.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantQuery(t, got, q)
		_, err = s.TrimQueries(ctx(t), -1)
		wantField(t, "TrimQueries(-1)", err, ophicleide.EINVALID, "keep")
		if n, err := s.TrimQueries(ctx(t), 5); err != nil || n != 0 {
			t.Errorf("TrimQueries(5) of one query = %d, %v; want 0", n, err)
		}
		if n, err := s.TrimQueries(ctx(t), 1); err != nil || n != 0 {
			t.Errorf("TrimQueries(1) of one query = %d, %v; want 0", n, err)
		}
	})

	t.Run("ListNewestFirst", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		page, err := s.PageQueries(ctx(t), ophicleide.QueryFilter{}, ophicleide.Page{})
		if err != nil || len(page.Queries) != 0 || page.Next != "" {
			t.Fatalf("PageQueries of an empty store = %+v, %v", page, err)
		}
		a, b, c := newQuery(t, s, nil, time.Second), newQuery(t, s, nil, 3*time.Second), newQuery(t, s, nil, 2*time.Second)
		for _, q := range []*ophicleide.Query{a, b, c} {
			mustQuery(t, s, q)
		}
		page, err = s.PageQueries(ctx(t), ophicleide.QueryFilter{}, ophicleide.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Queries) != 3 || page.Next != "" {
			t.Fatalf("PageQueries returned %d queries, next %q; want 3 and none", len(page.Queries), page.Next)
		}
		for i, want := range []*ophicleide.Query{b, c, a} {
			wantQuery(t, page.Queries[i], want)
		}
	})

	// ListQueriesIsPaginated: issue 10, GET /queries returned all 37k
	// queries (17.5 MB). Pages follow one another by cursor, across equal
	// timestamps, without gaps or repeats, and a cursor stays valid while
	// newer queries arrive.
	t.Run("ListQueriesIsPaginated", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		var all []*ophicleide.Query
		for i := range 23 {
			q := newQuery(t, s, m, time.Duration(i/4)*time.Second) // 4 per timestamp
			mustQuery(t, s, q)
			all = append(all, q)
		}
		want := queryIDs(byAge(all))
		for _, limit := range []int{1, 3, 4, 5, 22, 23, 24} {
			if got := queryIDs(queryPages(t, s, "", limit)); !reflect.DeepEqual(got, want) {
				t.Fatalf("pages of %d:\n got %v\nwant %v", limit, got, want)
			}
		}
		first, err := s.PageQueries(ctx(t), ophicleide.QueryFilter{}, ophicleide.Page{Limit: 6})
		if err != nil || len(first.Queries) != 6 || first.Next == "" {
			t.Fatalf("first page: %+v %v", first, err)
		}
		wantQuery(t, first.Queries[0], byAge(all)[0])
		mustQuery(t, s, newQuery(t, s, m, time.Hour)) // newer: not on later pages
		second, err := s.PageQueries(ctx(t), ophicleide.QueryFilter{}, ophicleide.Page{Limit: 6, After: first.Next})
		if err != nil {
			t.Fatal(err)
		}
		if got := queryIDs(second.Queries); !reflect.DeepEqual(got, want[6:12]) {
			t.Fatalf("second page after a newer query:\n got %v\nwant %v", got, want[6:12])
		}
		def, err := s.PageQueries(ctx(t), ophicleide.QueryFilter{}, ophicleide.Page{})
		if err != nil || len(def.Queries) != 24 {
			t.Fatalf("default page: %d queries, %v", len(def.Queries), err)
		}
		wantBadPages(t, func(p ophicleide.Page) error {
			_, err := s.PageQueries(ctx(t), ophicleide.QueryFilter{}, p)
			return err
		})
	})

	t.Run("ModelFilter", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewModel(0), NewModel(time.Second)
		mustCreate(t, s, a, nil)
		mustCreate(t, s, b, nil)
		var ofA, ofB []*ophicleide.Query
		for i := range 9 {
			qa, qb := newQuery(t, s, a, time.Duration(i/2)*time.Second), newQuery(t, s, b, time.Duration(i/2)*time.Second)
			mustQuery(t, s, qa)
			mustQuery(t, s, qb)
			ofA, ofB = append(ofA, qa), append(ofB, qb)
		}
		for _, limit := range []int{2, 9, 10} {
			if got, want := queryIDs(queryPages(t, s, a.ID, limit)), queryIDs(byAge(ofA)); !reflect.DeepEqual(got, want) {
				t.Fatalf("model a, pages of %d:\n got %v\nwant %v", limit, got, want)
			}
		}
		if got, want := queryIDs(queryPages(t, s, b.ID, 4)), queryIDs(byAge(ofB)); !reflect.DeepEqual(got, want) {
			t.Fatalf("model b:\n got %v\nwant %v", got, want)
		}
		if got := queryPages(t, s, NewID(), 5); len(got) != 0 {
			t.Fatalf("queries of an unknown model: %v", queryIDs(got))
		}
	})

	// QueriesOfDeletedModelGo: the history of a deleted model goes with it.
	t.Run("QueriesOfDeletedModelGo", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		del, keep := NewModel(0), NewModel(time.Second)
		mustCreate(t, s, del, nil)
		mustCreate(t, s, keep, nil)
		var gone, kept []*ophicleide.Query
		for i := range 5 {
			qd, qk := newQuery(t, s, del, time.Duration(i)*time.Second), newQuery(t, s, keep, time.Duration(i)*time.Second)
			mustQuery(t, s, qd)
			mustQuery(t, s, qk)
			gone, kept = append(gone, qd), append(kept, qk)
		}
		if err := s.DeleteModel(ctx(t), del.ID); err != nil {
			t.Fatal(err)
		}
		for _, q := range gone {
			_, err := s.FindQuery(ctx(t), q.ID)
			wantCode(t, "FindQuery of a deleted model's query", err, ophicleide.ENOTFOUND)
		}
		if got := queryPages(t, s, del.ID, 2); len(got) != 0 {
			t.Errorf("queries of the deleted model: %v", queryIDs(got))
		}
		if got, want := queryIDs(queryPages(t, s, "", 3)), queryIDs(byAge(kept)); !reflect.DeepEqual(got, want) {
			t.Errorf("queries after the deletion:\n got %v\nwant %v", got, want)
		}
		wantCode(t, "CreateQuery of the deleted model", s.CreateQuery(ctx(t), newQuery(t, s, del, 0)), ophicleide.ENOTFOUND)
		// The same ID again starts with no history.
		again := NewModel(2 * time.Second)
		again.ID = del.ID
		mustCreate(t, s, again, nil)
		if got := queryPages(t, s, again.ID, 10); len(got) != 0 {
			t.Errorf("a re-created model inherited queries: %v", queryIDs(got))
		}
	})

	// QueryRetention: TrimQueries keeps the newest, removes the oldest,
	// and leaves the indexes right (pages, the model filter).
	t.Run("QueryRetention", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewModel(0), NewModel(time.Second)
		mustCreate(t, s, a, nil)
		mustCreate(t, s, b, nil)
		var all []*ophicleide.Query
		for i := range 20 {
			m := a
			if i%3 == 0 {
				m = b
			}
			q := newQuery(t, s, m, time.Duration(i/2)*time.Second)
			mustQuery(t, s, q)
			all = append(all, q)
		}
		all = byAge(all)
		n, err := s.TrimQueries(ctx(t), 7)
		if err != nil || n != 13 {
			t.Fatalf("TrimQueries(7) = %d, %v; want 13 removed", n, err)
		}
		if got, want := queryIDs(queryPages(t, s, "", 3)), queryIDs(all[:7]); !reflect.DeepEqual(got, want) {
			t.Fatalf("after TrimQueries(7):\n got %v\nwant %v", got, want)
		}
		var wantA []string
		for _, q := range all[:7] {
			if q.ModelID == a.ID {
				wantA = append(wantA, q.ID)
			}
		}
		if got := queryIDs(queryPages(t, s, a.ID, 2)); !reflect.DeepEqual(got, wantA) {
			t.Fatalf("model a after TrimQueries(7):\n got %v\nwant %v", got, wantA)
		}
		for _, q := range all[7:] {
			_, err := s.FindQuery(ctx(t), q.ID)
			wantCode(t, "FindQuery of a trimmed query", err, ophicleide.ENOTFOUND)
		}
		if n, err := s.TrimQueries(ctx(t), 7); err != nil || n != 0 {
			t.Fatalf("TrimQueries(7) again = %d, %v; want 0", n, err)
		}
		if n, err := s.TrimQueries(ctx(t), 0); err != nil || n != 7 {
			t.Fatalf("TrimQueries(0) = %d, %v; want 7", n, err)
		}
		if got := queryPages(t, s, "", 10); len(got) != 0 {
			t.Fatalf("queries after TrimQueries(0): %v", queryIDs(got))
		}
		mustQuery(t, s, newQuery(t, s, a, 0))
		if got := queryPages(t, s, a.ID, 10); len(got) != 1 {
			t.Fatalf("a query after TrimQueries(0): %v", queryIDs(got))
		}
	})
}

// testQueryOwners: PageQueries' owner filter, alone and with a model,
// over owners whose names hold what could break an index key, and
// through deletions and trims.
func testQueryOwners(t *testing.T, open opener) {
	// Key names are arbitrary strings: separators, a 0 byte, prefixes of
	// one another, the empty owner, one too long for a bbolt key.
	owners := []string{"", "alice", "al", "alice\x00bob", "o:alice", "a b/c:d\n", strings.Repeat("é", 400)}
	newQuery := func(m *ophicleide.Model, owner string, age time.Duration) *ophicleide.Query {
		return &ophicleide.Query{ID: NewID(), Word: "darcy", ModelID: m.ID, ModelName: m.Name, Owner: owner,
			Results: []ophicleide.Result{{Word: "bingley", Score: 0.5}}, Created: base.Add(age)}
	}
	ids := func(qs []*ophicleide.Query, keep func(*ophicleide.Query) bool) []string {
		qs = slices.Clone(qs)
		sortNewestFirst(qs, func(q *ophicleide.Query) (time.Time, string) { return q.Created, q.ID })
		var out []string
		for _, q := range qs {
			if keep(q) {
				out = append(out, q.ID)
			}
		}
		return out
	}

	t.Run("OwnerFilter", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewModel(0), NewModel(time.Second)
		mustCreate(t, s, a, nil)
		mustCreate(t, s, b, nil)
		var all []*ophicleide.Query
		for i := range 42 {
			m := a
			if i%4 == 0 {
				m = b
			}
			q := newQuery(m, owners[i%len(owners)], time.Duration(i/3)*time.Second)
			if err := s.CreateQuery(ctx(t), q); err != nil {
				t.Fatalf("CreateQuery: %v", err)
			}
			all = append(all, q)
		}
		got, err := s.FindQuery(ctx(t), all[3].ID)
		if err != nil || got.Owner != all[3].Owner {
			t.Fatalf("FindQuery: owner %q, %v; want %q", got.Owner, err, all[3].Owner)
		}
		check := func(f ophicleide.QueryFilter) {
			t.Helper()
			want := ids(all, func(q *ophicleide.Query) bool {
				return (f.Model == "" || q.ModelID == f.Model) && (!f.ByOwner || q.Owner == f.Owner)
			})
			for _, limit := range []int{1, 2, 5, 100} {
				if got := queryIDs(filterPages(t, s, f, limit)); !reflect.DeepEqual(got, want) {
					t.Fatalf("filter %#v, pages of %d:\n got %v\nwant %v", f, limit, got, want)
				}
			}
		}
		for _, o := range owners {
			check(ophicleide.QueryFilter{ByOwner: true, Owner: o})
			check(ophicleide.QueryFilter{ByOwner: true, Owner: o, Model: a.ID})
			check(ophicleide.QueryFilter{ByOwner: true, Owner: o, Model: b.ID})
		}
		check(ophicleide.QueryFilter{})
		for _, f := range []ophicleide.QueryFilter{{ByOwner: true, Owner: "nobody"}, {ByOwner: true, Owner: "alice\x00"},
			{ByOwner: true, Owner: "alice", Model: NewID()}} {
			page, err := s.PageQueries(ctx(t), f, ophicleide.Page{})
			if err != nil || page.Queries == nil || len(page.Queries) != 0 || page.Next != "" {
				t.Fatalf("PageQueries(%#v) = %+v, %v; want an empty, non-nil page", f, page, err)
			}
		}

		// A deleted model's queries leave every owner's pages; a trim
		// removes the oldest from them too.
		if err := s.DeleteModel(ctx(t), b.ID); err != nil {
			t.Fatal(err)
		}
		all = slices.DeleteFunc(all, func(q *ophicleide.Query) bool { return q.ModelID == b.ID })
		for _, o := range owners {
			check(ophicleide.QueryFilter{ByOwner: true, Owner: o})
			check(ophicleide.QueryFilter{ByOwner: true, Owner: o, Model: b.ID})
		}
		keep := 11
		if _, err := s.TrimQueries(ctx(t), keep); err != nil {
			t.Fatal(err)
		}
		sortNewestFirst(all, func(q *ophicleide.Query) (time.Time, string) { return q.Created, q.ID })
		all = all[:keep]
		for _, o := range owners {
			check(ophicleide.QueryFilter{ByOwner: true, Owner: o})
			check(ophicleide.QueryFilter{ByOwner: true, Owner: o, Model: a.ID})
		}
	})

	// ManyOfOneOwner: 1000 queries of one owner, one of another, in
	// between; each owner's pages hold exactly its own.
	t.Run("ManyOfOneOwner", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		var many []*ophicleide.Query
		for i := range 1000 {
			q := newQuery(m, "many", time.Duration(i)*time.Millisecond)
			if err := s.CreateQuery(ctx(t), q); err != nil {
				t.Fatal(err)
			}
			many = append(many, q)
			if i == 500 {
				if err := s.CreateQuery(ctx(t), newQuery(m, "one", time.Duration(i)*time.Millisecond)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := filterPages(t, s, ophicleide.QueryFilter{ByOwner: true, Owner: "one"}, 100); len(got) != 1 || got[0].Owner != "one" {
			t.Fatalf("the other owner's pages: %v", queryIDs(got))
		}
		want := ids(many, func(*ophicleide.Query) bool { return true })
		for _, limit := range []int{100, 1000} {
			if got := queryIDs(filterPages(t, s, ophicleide.QueryFilter{ByOwner: true, Owner: "many", Model: m.ID}, limit)); !reflect.DeepEqual(got, want) {
				t.Fatalf("pages of %d: %d queries, want %d in order", limit, len(got), len(want))
			}
		}
		if got := filterPages(t, s, ophicleide.QueryFilter{ByOwner: true, Owner: ""}, 100); len(got) != 0 {
			t.Fatalf("queries without an owner: %v", queryIDs(got))
		}
	})
}

// queryPages reads every query (of model, unless ""), limit at a time.
func queryPages(t *testing.T, s ophicleide.Store, model string, limit int) []*ophicleide.Query {
	t.Helper()
	return filterPages(t, s, ophicleide.QueryFilter{Model: model}, limit)
}

// filterPages reads every query f selects, limit at a time.
func filterPages(t *testing.T, s ophicleide.Store, f ophicleide.QueryFilter, limit int) []*ophicleide.Query {
	t.Helper()
	var all []*ophicleide.Query
	p := ophicleide.Page{Limit: limit}
	for range 2000 {
		page, err := s.PageQueries(ctx(t), f, p)
		if err != nil {
			t.Fatalf("PageQueries(%+v, %+v): %v", f, p, err)
		}
		if len(page.Queries) > limit || (page.Next != "" && len(page.Queries) != limit) {
			t.Fatalf("PageQueries(%+v): %d queries, next %q", p, len(page.Queries), page.Next)
		}
		all = append(all, page.Queries...)
		if page.Next == "" {
			return all
		}
		p.After = page.Next
	}
	t.Fatal("PageQueries never ended")
	return nil
}

func queryIDs(qs []*ophicleide.Query) []string {
	var ids []string
	for _, q := range qs {
		ids = append(ids, q.ID)
	}
	return ids
}
