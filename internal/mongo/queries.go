package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ophicleide/ophicleide"
)

// trimEvery: each process checks the cap on the history every trimEvery
// queries it inserts (a count; a trim when above the cap).
const trimEvery = 100

// CreateQuery stores q, or returns ECONFLICT if its ID exists and
// ENOTFOUND if its model does not. The model is checked after the insert,
// and the query removed again if the model is gone: a DeleteModel racing
// with it has either removed the model before the check or will remove
// the query with the model's others.
func (s *Store) CreateQuery(ctx context.Context, q *ophicleide.Query) error {
	if q.ID == "" {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "id", Message: "a query needs an ID"}
	}
	if _, err := s.queries.InsertOne(ctx, queryDoc{ID: q.ID, Query: *q}); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return ophicleide.Errorf(ophicleide.ECONFLICT, "query %q exists", q.ID)
		}
		return fmt.Errorf("mongo: create query: %w", unavailable(err))
	}
	n, err := s.models.CountDocuments(ctx, bson.M{"_id": q.ModelID}, options.Count().SetLimit(1))
	if err == nil && n == 0 {
		_, err = s.queries.DeleteOne(context.WithoutCancel(ctx), bson.M{"_id": q.ID})
		if err == nil {
			err = notFound("model", q.ModelID)
		}
	}
	if err != nil {
		return fmt.Errorf("mongo: create query: %w", unavailable(err))
	}
	if s.maxQueries > 0 && s.inserts.Add(1)%trimEvery == 1 {
		if err := s.capQueries(ctx); err != nil {
			return fmt.Errorf("mongo: create query: %w", err)
		}
	}
	return nil
}

// capQueries trims the history to the cap if it is above it.
func (s *Store) capQueries(ctx context.Context) error {
	n, err := s.queries.EstimatedDocumentCount(ctx)
	if err != nil {
		return unavailable(err)
	}
	if n <= int64(s.maxQueries) {
		return nil
	}
	_, err = s.TrimQueries(ctx, s.maxQueries)
	return err
}

// FindQuery returns the query, or ENOTFOUND.
func (s *Store) FindQuery(ctx context.Context, id string) (*ophicleide.Query, error) {
	var doc queryDoc
	err := s.queries.FindOne(ctx, bson.M{"_id": id}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("mongo: find query: %w", notFound("query", id))
	}
	if err != nil {
		return nil, fmt.Errorf("mongo: find query: %w", unavailable(err))
	}
	doc.Query.ID = doc.ID
	return &doc.Query, nil
}

// PageQueries returns one page of the queries f selects, newest first
// (ties by descending ID): a range over the (created, _id), (model,
// created, _id), (owner, created, _id) or (owner, model, created, _id)
// index.
func (s *Store) PageQueries(ctx context.Context, f ophicleide.QueryFilter, p ophicleide.Page) (*ophicleide.QueryPage, error) {
	filter := bson.M{}
	if f.Model != "" {
		filter["model"] = f.Model
	}
	if f.ByOwner {
		filter["owner"] = ownerFilter(f.Owner)
	}
	filter, limit, err := pageFilter(filter, p)
	if err != nil {
		return nil, err
	}
	cur, err := s.queries.Find(ctx, filter, options.Find().SetSort(newestFirst).SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("mongo: list queries: %w", unavailable(err))
	}
	var docs []queryDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: list queries: %w", unavailable(err))
	}
	page := &ophicleide.QueryPage{Queries: make([]*ophicleide.Query, 0, len(docs))}
	for i := range docs {
		if i == int(limit)-1 {
			last := page.Queries[i-1]
			page.Next = ophicleide.Cursor{Created: last.Created, ID: last.ID}.String()
			break
		}
		docs[i].Query.ID = docs[i].ID
		page.Queries = append(page.Queries, &docs[i].Query)
	}
	return page, nil
}

// ownerFilter matches the field owner equal to owner. The documents
// leave owner "" out (Query.Owner is omitempty, and documents written
// before owners have none), and an index keeps a missing field as null:
// "" is null or "".
func ownerFilter(owner string) any {
	if owner == "" {
		return bson.M{"$in": bson.A{nil, ""}}
	}
	return owner
}

// TrimQueries removes the oldest queries until at most keep are left:
// it finds the newest query beyond keep and deletes it and every older
// one in one deleteMany (queries inserted meanwhile are newer).
func (s *Store) TrimQueries(ctx context.Context, keep int) (int, error) {
	if keep < 0 {
		return 0, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "keep", Message: "keep must be 0 or more"}
	}
	var edge struct {
		ID      string    `bson:"_id"`
		Created time.Time `bson:"created"`
	}
	err := s.queries.FindOne(ctx, bson.M{}, options.FindOne().SetSort(newestFirst).SetSkip(int64(keep)).
		SetProjection(bson.M{"_id": 1, "created": 1})).Decode(&edge)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mongo: trim queries: %w", unavailable(err))
	}
	res, err := s.queries.DeleteMany(ctx, bson.M{"$or": bson.A{
		bson.M{"created": bson.M{"$lt": edge.Created}},
		bson.M{"created": edge.Created, "_id": bson.M{"$lte": edge.ID}},
	}})
	if err != nil {
		return 0, fmt.Errorf("mongo: trim queries: %w", unavailable(err))
	}
	return int(res.DeletedCount), nil
}
