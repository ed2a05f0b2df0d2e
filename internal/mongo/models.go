package mongo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ophicleide/ophicleide"
)

// CreateModel stores m as queued with its uploads and its job.
func (s *Store) CreateModel(ctx context.Context, m *ophicleide.Model, uploads map[string]io.Reader) error {
	if err := ophicleide.CheckModelID(m.ID); err != nil {
		return err
	}
	if err := ophicleide.CheckUploads(m.Uploads, uploads); err != nil {
		return err
	}
	doc := modelDoc{ID: m.ID, Model: *m}
	doc.Status = ophicleide.StatusQueued
	var files []string
	for _, name := range m.Uploads {
		id, err := putFile(ctx, s.uploads, m.ID+"/"+name, func(w io.Writer) error {
			_, err := io.Copy(w, uploads[name])
			return err
		})
		if err != nil {
			deleteFiles(ctx, s.uploads, files...)
			return fmt.Errorf("mongo: create model: upload %q: %w", name, err)
		}
		files = append(files, id)
		doc.UploadFiles = append(doc.UploadFiles, uploadFile{name, id})
	}
	if _, err := s.models.InsertOne(ctx, doc); err != nil {
		deleteFiles(ctx, s.uploads, files...)
		if mongo.IsDuplicateKeyError(err) {
			return ophicleide.Errorf(ophicleide.ECONFLICT, "model %q exists", m.ID)
		}
		return fmt.Errorf("mongo: create model: %w", unavailable(err))
	}
	job := jobDoc{ID: m.ID, Nonce: randomID(), Created: m.Created, Token: firstToken()}
	if _, err := s.jobs.InsertOne(ctx, job); err != nil {
		s.models.DeleteOne(context.WithoutCancel(ctx), bson.M{"_id": m.ID})
		deleteFiles(ctx, s.uploads, files...)
		return fmt.Errorf("mongo: create model: enqueue: %w", unavailable(err))
	}
	return nil
}

// ImportModel stores m as ready with the vectors write writes: the
// GridFS file first, then the document (a crash in between leaves a file
// no document names).
func (s *Store) ImportModel(ctx context.Context, m *ophicleide.Model, write func(io.Writer) error) error {
	if err := ophicleide.CheckModelID(m.ID); err != nil {
		return err
	}
	if n, err := s.models.CountDocuments(ctx, bson.M{"_id": m.ID}); err != nil {
		return fmt.Errorf("mongo: import model: %w", unavailable(err))
	} else if n > 0 {
		return ophicleide.Errorf(ophicleide.ECONFLICT, "model %q exists", m.ID)
	}
	file, err := putFile(ctx, s.vectors, m.ID, write)
	if err != nil {
		return fmt.Errorf("mongo: import model: %w", err)
	}
	doc := modelDoc{ID: m.ID, Model: *m, Vectors: file}
	doc.Status = ophicleide.StatusReady
	if _, err := s.models.InsertOne(ctx, doc); err != nil {
		deleteFiles(ctx, s.vectors, file)
		if mongo.IsDuplicateKeyError(err) {
			return ophicleide.Errorf(ophicleide.ECONFLICT, "model %q exists", m.ID)
		}
		return fmt.Errorf("mongo: import model: %w", unavailable(err))
	}
	return nil
}

// BeginImport stores m as importing, with no job and no vectors.
func (s *Store) BeginImport(ctx context.Context, m *ophicleide.Model) error {
	if err := ophicleide.CheckModelID(m.ID); err != nil {
		return err
	}
	doc := modelDoc{ID: m.ID, Model: *m}
	doc.Status = ophicleide.StatusImporting
	if _, err := s.models.InsertOne(ctx, doc); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return ophicleide.Errorf(ophicleide.ECONFLICT, "model %q exists", m.ID)
		}
		return fmt.Errorf("mongo: begin import: %w", unavailable(err))
	}
	return nil
}

// notImporting explains why an update filtered on status importing
// matched nothing: ENOTFOUND, or ECONFLICT naming the status.
func (s *Store) notImporting(ctx context.Context, id string) error {
	doc, err := s.findModel(ctx, id)
	if err != nil {
		return err
	}
	return ophicleide.Errorf(ophicleide.ECONFLICT, "model %q is not importing (status %s)", doc.Name, doc.Status)
}

// SetImportProgress stores p as the progress of the importing model id.
func (s *Store) SetImportProgress(ctx context.Context, id string, p ophicleide.Progress) error {
	res, err := s.models.UpdateOne(ctx, bson.M{"_id": id, "status": ophicleide.StatusImporting},
		bson.M{"$set": bson.M{"progress": p, "updated": time.Now()}})
	if err != nil {
		return fmt.Errorf("mongo: import progress: %w", unavailable(err))
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongo: import progress: %w", s.notImporting(ctx, id))
	}
	return nil
}

// EndImport streams the vectors to GridFS, then replaces the document
// (still importing) by m as ready; the file is removed when that finds no
// importing model. When write fails the document becomes failed.
func (s *Store) EndImport(ctx context.Context, m *ophicleide.Model, write func(io.Writer) error) error {
	file, werr := putFile(ctx, s.vectors, m.ID, write)
	if werr != nil {
		res, err := s.models.UpdateOne(context.WithoutCancel(ctx), bson.M{"_id": m.ID, "status": ophicleide.StatusImporting},
			bson.M{"$set": bson.M{"status": ophicleide.StatusFailed, "error": ophicleide.ErrorMessage(werr), "updated": time.Now()}, "$unset": bson.M{"progress": ""}})
		switch {
		case err != nil:
			return fmt.Errorf("mongo: end import: %w", errors.Join(werr, unavailable(err)))
		case res.MatchedCount == 0:
			if nerr := s.notImporting(context.WithoutCancel(ctx), m.ID); ophicleide.ErrorCode(nerr) == ophicleide.ENOTFOUND {
				return fmt.Errorf("mongo: end import: %w", nerr)
			}
		}
		return fmt.Errorf("mongo: end import: %w", werr)
	}
	doc := modelDoc{ID: m.ID, Model: *m, Vectors: file}
	doc.Status, doc.Progress, doc.Error, doc.Updated = ophicleide.StatusReady, nil, "", time.Now()
	res, err := s.models.ReplaceOne(ctx, bson.M{"_id": m.ID, "status": ophicleide.StatusImporting}, doc)
	if err != nil {
		deleteFiles(ctx, s.vectors, file)
		return fmt.Errorf("mongo: end import: %w", unavailable(err))
	}
	if res.MatchedCount == 0 {
		deleteFiles(ctx, s.vectors, file)
		return fmt.Errorf("mongo: end import: %w", s.notImporting(ctx, m.ID))
	}
	return nil
}

// FailStaleImports fails the importing models last updated before
// before, in one update (the status index serves it).
func (s *Store) FailStaleImports(ctx context.Context, before time.Time) (int, error) {
	res, err := s.models.UpdateMany(ctx, bson.M{"status": ophicleide.StatusImporting, "updated": bson.M{"$lt": before}},
		bson.M{"$set": bson.M{"status": ophicleide.StatusFailed, "error": ophicleide.ImportInterrupted, "updated": time.Now()}, "$unset": bson.M{"progress": ""}})
	if err != nil {
		return 0, fmt.Errorf("mongo: fail stale imports: %w", unavailable(err))
	}
	return int(res.ModifiedCount), nil
}

func (s *Store) findModel(ctx context.Context, id string) (*modelDoc, error) {
	var doc modelDoc
	err := s.models.FindOne(ctx, bson.M{"_id": id}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, notFound("model", id)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	doc.Model.ID = doc.ID
	return &doc, nil
}

// FindModel returns the model, or ENOTFOUND.
func (s *Store) FindModel(ctx context.Context, id string) (*ophicleide.Model, error) {
	doc, err := s.findModel(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("mongo: find model: %w", err)
	}
	return &doc.Model, nil
}

// newestFirst is the order of pages.
var newestFirst = bson.D{{Key: "created", Value: -1}, {Key: "_id", Value: -1}}

// pageFilter adds to filter the condition "below the cursor" in
// newestFirst order, and returns the limit to ask for (one more than the
// page, to know whether another follows).
func pageFilter(filter bson.M, p ophicleide.Page) (bson.M, int64, error) {
	limit, after, err := p.Parse()
	if err != nil {
		return nil, 0, err
	}
	if after != nil {
		filter["$or"] = bson.A{
			bson.M{"created": bson.M{"$lt": after.Created}},
			bson.M{"created": after.Created, "_id": bson.M{"$lt": after.ID}},
		}
	}
	return filter, int64(limit) + 1, nil
}

// PageModels returns one page of the models, newest first (ties by
// descending ID): a range over the (created, _id) index.
func (s *Store) PageModels(ctx context.Context, p ophicleide.Page) (*ophicleide.ModelPage, error) {
	filter, limit, err := pageFilter(bson.M{}, p)
	if err != nil {
		return nil, err
	}
	cur, err := s.models.Find(ctx, filter, options.Find().SetSort(newestFirst).SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("mongo: list models: %w", unavailable(err))
	}
	var docs []modelDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: list models: %w", unavailable(err))
	}
	page := &ophicleide.ModelPage{Models: make([]*ophicleide.Model, 0, len(docs))}
	for i := range docs {
		if i == int(limit)-1 {
			last := page.Models[i-1]
			page.Next = ophicleide.Cursor{Created: last.Created, ID: last.ID}.String()
			break
		}
		docs[i].Model.ID = docs[i].ID
		page.Models = append(page.Models, &docs[i].Model)
	}
	return page, nil
}

// CountModels counts the models by status in one aggregation, and sums
// the speed of those training from their progress alone (an index on
// status serves both). FerretDB's $sum of a nested field gives 0, so the
// speeds are not summed by the aggregation.
func (s *Store) CountModels(ctx context.Context) (*ophicleide.ModelCounts, error) {
	cur, err := s.models.Aggregate(ctx, bson.A{
		bson.M{"$group": bson.M{"_id": "$status", "n": bson.M{"$sum": 1}}},
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: count models: %w", unavailable(err))
	}
	var groups []struct {
		Status ophicleide.Status `bson:"_id"`
		N      int               `bson:"n"`
	}
	if err := cur.All(ctx, &groups); err != nil {
		return nil, fmt.Errorf("mongo: count models: %w", unavailable(err))
	}
	c := &ophicleide.ModelCounts{ByStatus: map[ophicleide.Status]int{
		ophicleide.StatusQueued: 0, ophicleide.StatusTraining: 0, ophicleide.StatusReady: 0, ophicleide.StatusFailed: 0,
		ophicleide.StatusImporting: 0,
	}}
	for _, g := range groups {
		c.ByStatus[g.Status] += g.N
	}
	if c.ByStatus[ophicleide.StatusTraining] == 0 {
		return c, nil
	}
	cur, err = s.models.Find(ctx, bson.M{"status": ophicleide.StatusTraining}, options.Find().SetProjection(bson.M{"progress": 1}))
	if err != nil {
		return nil, fmt.Errorf("mongo: count models: %w", unavailable(err))
	}
	var training []struct {
		Progress *ophicleide.Progress `bson:"progress"`
	}
	if err := cur.All(ctx, &training); err != nil {
		return nil, fmt.Errorf("mongo: count models: %w", unavailable(err))
	}
	for _, m := range training {
		if m.Progress != nil {
			c.WordsPerSecond += m.Progress.WordsPerSecond
		}
	}
	return c, nil
}

// DeleteModel removes the model first (its lease holder loses the lease
// at once), then its job, leases, queries and files.
func (s *Store) DeleteModel(ctx context.Context, id string) error {
	// The document removed is the one whose files go: a PutVectors
	// that lands before it is seen, one after it finds no model.
	var doc modelDoc
	err := s.models.FindOneAndDelete(ctx, bson.M{"_id": id}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("mongo: delete model: %w", notFound("model", id))
	}
	if err != nil {
		return fmt.Errorf("mongo: delete model: %w", unavailable(err))
	}
	var job jobDoc
	if s.jobs.FindOneAndDelete(ctx, bson.M{"_id": id}).Decode(&job) == nil {
		s.leases.DeleteMany(ctx, bson.M{"job": job.Nonce})
	}
	if _, err := s.queries.DeleteMany(ctx, bson.M{"model": id}); err != nil {
		return fmt.Errorf("mongo: delete model: its queries: %w", unavailable(err))
	}
	deleteFiles(ctx, s.vectors, doc.Vectors)
	s.deleteIndex(ctx, id) // after the model: PutIndex looks for it again
	for _, u := range doc.UploadFiles {
		deleteFiles(ctx, s.uploads, u.File)
	}
	return nil
}

// Usage counts the models of owner queued or training and sums the
// lengths of their GridFS files (uploads still kept, vectors): a range
// over the (owner, status) index and one find per bucket.
func (s *Store) Usage(ctx context.Context, owner string) (ophicleide.Usage, error) {
	var u ophicleide.Usage
	cur, err := s.models.Find(ctx, bson.M{"owner": ownerFilter(owner)},
		options.Find().SetProjection(bson.M{"status": 1, "vectorsFile": 1, "uploadFiles": 1}))
	if err != nil {
		return u, fmt.Errorf("mongo: usage: %w", unavailable(err))
	}
	var docs []struct {
		Status      ophicleide.Status `bson:"status"`
		Vectors     string            `bson:"vectorsFile"`
		UploadFiles []uploadFile      `bson:"uploadFiles"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return u, fmt.Errorf("mongo: usage: %w", unavailable(err))
	}
	vectors, uploads := bson.A{}, bson.A{}
	for _, d := range docs {
		if d.Status == ophicleide.StatusQueued || d.Status == ophicleide.StatusTraining {
			u.Active++
		}
		if d.Vectors != "" {
			vectors = append(vectors, d.Vectors)
		}
		for _, f := range d.UploadFiles {
			uploads = append(uploads, f.File)
		}
	}
	for _, b := range []struct {
		bucket *mongo.GridFSBucket
		ids    bson.A
	}{{s.vectors, vectors}, {s.uploads, uploads}} {
		if len(b.ids) == 0 {
			continue
		}
		n, err := fileBytes(ctx, b.bucket, b.ids)
		if err != nil {
			return ophicleide.Usage{}, fmt.Errorf("mongo: usage: %w", err)
		}
		u.Bytes += n
	}
	return u, nil
}

// fileBytes sums the lengths of the GridFS files ids of bucket b (files
// already gone count nothing).
func fileBytes(ctx context.Context, b *mongo.GridFSBucket, ids bson.A) (int64, error) {
	cur, err := b.Find(ctx, bson.M{"_id": bson.M{"$in": ids}})
	if err != nil {
		return 0, unavailable(err)
	}
	var files []struct {
		Length int64 `bson:"length"`
	}
	if err := cur.All(ctx, &files); err != nil {
		return 0, unavailable(err)
	}
	var n int64
	for _, f := range files {
		n += f.Length
	}
	return n, nil
}

// SetEvaluation stores e as the evaluation of the ready model id.
func (s *Store) SetEvaluation(ctx context.Context, id string, e *ophicleide.Evaluation) error {
	update := bson.M{"$set": bson.M{"updated": time.Now()}, "$unset": bson.M{"evaluation": ""}}
	if e != nil {
		update = bson.M{"$set": bson.M{"updated": time.Now(), "evaluation": *e}}
	}
	res, err := s.models.UpdateOne(ctx, bson.M{"_id": id, "status": ophicleide.StatusReady}, update)
	if err != nil {
		return fmt.Errorf("mongo: set evaluation: %w", unavailable(err))
	}
	if res.MatchedCount == 1 {
		return nil
	}
	doc, err := s.findModel(ctx, id)
	if err != nil {
		return fmt.Errorf("mongo: set evaluation: %w", err)
	}
	return ophicleide.Errorf(ophicleide.ECONFLICT, "model %q is not ready (status %s): it has no vectors to evaluate", doc.Name, doc.Status)
}
