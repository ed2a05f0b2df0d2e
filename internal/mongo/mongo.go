// Package mongo is the MongoDB store of Ophicleide, for production: several
// api and worker processes share one database. It uses the official driver
// (go.mongodb.org/mongo-driver/v2) and no feature FerretDB lacks
// (transactions, change streams, TTL or partial indexes):
//
//	models    one document per model: the Model's fields, plus the GridFS
//	          ids of its vectors and uploads and the token of its job's
//	          current lease (jobToken), which fences stale lease holders
//	jobs      one document per unfinished training job (_id = model id)
//	leases    one document per claim of a job, _id "<job nonce>/<token>":
//	          the unique _id is what makes a claim exclusive
//	queries   the query history (at most Config.MaxQueries, give or take
//	          100 inserts per process: see CreateQuery), indexed by
//	          (created, _id) and (model, created, _id) for pages
//	vectors.files/.chunks, uploads.files/.chunks   GridFS buckets (a
//	          model's uploads are kept while its job is unfinished, and
//	          deleted when it ends ready or failed, or is deleted)
//
// Claims do not rely on findOneAndUpdate being atomic (FerretDB's is not
// under concurrency, measured: 8 racers on 200 jobs gave ~200 double
// claims). A claimer reads a claimable job with its current token t and
// inserts the lease document "<nonce>/<t+1>"; of all claimers that read t,
// exactly one insert succeeds (a duplicate _id fails on MongoDB and on
// FerretDB alike), and only the winner then moves the job to token t+1.
// Every later write by a lease holder filters on its token, so a holder
// whose lease lapsed and was claimed again changes nothing.
//
// There are no multi-document transactions: multi-step changes are ordered
// so that a crash in between leaves nothing visible (files are written
// before the document that points at them; a model is inserted before its
// job, and deleted first).
package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ophicleide/ophicleide"
)

var _ ophicleide.Store = (*Store)(nil)

// DefaultDatabase is used when the URL names none (the original's).
const DefaultDatabase = "ophicleide"

// gridChunk is the GridFS chunk size: 4 MiB, not the default 255 KiB, so a
// 24 MB model is 6 round trips, not 94 (well under the 16 MiB document
// limit).
const gridChunk = 4 << 20

// Config says how to reach the database.
type Config struct {
	URL      string // mongodb://host:port/database?options
	Username string // credentials, if not in the URL (read from secret files)
	Password string
	// MaxQueries caps the query history: 0 means
	// ophicleide.DefaultMaxQueries, below 0 no cap.
	MaxQueries int
}

// Store is the MongoDB store. Open one with Open.
type Store struct {
	client  *mongo.Client
	db      *mongo.Database
	models  *mongo.Collection
	jobs    *mongo.Collection
	leases  *mongo.Collection
	queries *mongo.Collection
	vectors *mongo.GridFSBucket
	uploads *mongo.GridFSBucket

	maxQueries int          // 0: no cap
	inserts    atomic.Int64 // queries this process inserted: every trimEvery-th checks the cap
}

// modelDoc is a document of the models collection.
type modelDoc struct {
	ID               string `bson:"_id"`
	ophicleide.Model `bson:",inline"`
	Vectors          string       `bson:"vectorsFile,omitempty"` // GridFS id in the vectors bucket
	UploadFiles      []uploadFile `bson:"uploadFiles,omitempty"` // (names may hold dots: no map keys)
	JobToken         int64        `bson:"jobToken"`              // token of the current lease
}

// uploadFile names the GridFS file of an upload.
type uploadFile struct {
	Name string `bson:"name"`
	File string `bson:"file"` // GridFS id in the uploads bucket
}

// jobDoc is a document of the jobs collection.
type jobDoc struct {
	ID      string    `bson:"_id"` // the model's
	Nonce   string    `bson:"nonce"`
	Created time.Time `bson:"created"`
	Leased  bool      `bson:"leased"`
	Token   int64     `bson:"token"` // of the last claim; firstToken() before the first
	Owner   string    `bson:"owner,omitempty"`
	Expires time.Time `bson:"expires"`
	Attempt int       `bson:"attempt"` // of the last claim
	// Released: the last lease was handed back, not lost; the next claim
	// is not a new attempt.
	Released bool `bson:"released"`
}

// queryDoc is a document of the queries collection.
type queryDoc struct {
	ID               string `bson:"_id"`
	ophicleide.Query `bson:",inline"`
}

// Open connects to the database, checks that it answers, and creates the
// indexes (idempotent). An unreachable server is EUNAVAILABLE.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "mongodb" && u.Scheme != "mongodb+srv") {
		return nil, ophicleide.Errorf(ophicleide.EINVALID, "MongoDB URL %q: want mongodb://host:port/database", Redact(cfg.URL))
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		name = DefaultDatabase
	}
	opts := options.Client().ApplyURI(cfg.URL).
		SetRegistry(registry()).
		SetBSONOptions(&options.BSONOptions{UseJSONStructTags: true}).
		SetServerSelectionTimeout(10 * time.Second).
		SetAppName("ophicleide")
	if cfg.Username != "" {
		opts.SetAuth(options.Credential{Username: cfg.Username, Password: cfg.Password})
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: connect: %w", err)
	}
	db := client.Database(name)
	s := &Store{
		client:  client,
		db:      db,
		models:  db.Collection("models"),
		jobs:    db.Collection("jobs"),
		leases:  db.Collection("leases"),
		queries: db.Collection("queries"),
		vectors: db.GridFSBucket(options.GridFSBucket().SetName("vectors").SetChunkSizeBytes(gridChunk)),
		uploads: db.GridFSBucket(options.GridFSBucket().SetName("uploads").SetChunkSizeBytes(gridChunk)),
	}
	switch {
	case cfg.MaxQueries == 0:
		s.maxQueries = ophicleide.DefaultMaxQueries
	case cfg.MaxQueries > 0:
		s.maxQueries = cfg.MaxQueries
	}
	if err := client.Ping(ctx, nil); err != nil {
		client.Disconnect(context.WithoutCancel(ctx))
		return nil, &ophicleide.Error{Code: ophicleide.EUNAVAILABLE, Message: fmt.Sprintf("MongoDB at %s does not answer", Redact(cfg.URL)), Err: err}
	}
	for _, ix := range []struct {
		coll *mongo.Collection
		keys bson.D
	}{
		{s.models, bson.D{{Key: "created", Value: -1}, {Key: "_id", Value: -1}}},
		{s.models, bson.D{{Key: "status", Value: 1}}},
		{s.queries, bson.D{{Key: "created", Value: -1}, {Key: "_id", Value: -1}}},
		{s.queries, bson.D{{Key: "model", Value: 1}, {Key: "created", Value: -1}, {Key: "_id", Value: -1}}},
		{s.jobs, bson.D{{Key: "created", Value: 1}}},
		{s.leases, bson.D{{Key: "job", Value: 1}}},
	} {
		coll := ix.coll
		if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys}); err != nil {
			client.Disconnect(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("mongo: create index on %s: %w", coll.Name(), err)
		}
	}
	return s, nil
}

// registry is the driver's default BSON registry, except that uint64 (a
// model's seed) is stored as the int64 with the same bits: BSON has no
// unsigned integers and refuses values above 2^63-1.
func registry() *bson.Registry {
	r := bson.NewRegistry()
	t := reflect.TypeFor[uint64]()
	r.RegisterTypeEncoder(t, bson.ValueEncoderFunc(func(_ bson.EncodeContext, vw bson.ValueWriter, v reflect.Value) error {
		return vw.WriteInt64(int64(v.Uint()))
	}))
	r.RegisterTypeDecoder(t, bson.ValueDecoderFunc(func(_ bson.DecodeContext, vr bson.ValueReader, v reflect.Value) error {
		switch vr.Type() {
		case bson.TypeInt64:
			i, err := vr.ReadInt64()
			v.SetUint(uint64(i))
			return err
		case bson.TypeInt32:
			i, err := vr.ReadInt32()
			v.SetUint(uint64(uint32(i)))
			return err
		}
		return fmt.Errorf("cannot decode BSON %v into uint64", vr.Type())
	}))
	return r
}

// Redact hides the password of a MongoDB URL, for logs and errors.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Close disconnects. Calling it again is a no-op.
func (s *Store) Close() error {
	if err := s.client.Disconnect(context.Background()); err != nil && !errors.Is(err, mongo.ErrClientDisconnected) {
		return fmt.Errorf("mongo: close: %w", err)
	}
	return nil
}

func notFound(what, id string) error {
	return ophicleide.Errorf(ophicleide.ENOTFOUND, "%s %q not found", what, id)
}

// outOfSpace are the server's answers that mean it cannot store more:
// MongoDB's OutOfDiskSpace (14031), its errors from a full disk, Atlas's
// space quota, and SQLite's full database under FerretDB.
var outOfSpace = struct {
	codes    []int
	messages []string
}{
	codes:    []int{14031},
	messages: []string{"No space left on device", "over your space quota", "database or disk is full", "Disk quota exceeded"},
}

// unavailable maps driver errors that mean "the database is not there" to
// EUNAVAILABLE and those that mean "the database is full" to EFULL;
// others pass through.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		full := false
		for _, c := range outOfSpace.codes {
			full = full || se.HasErrorCode(c)
		}
		for _, m := range outOfSpace.messages {
			full = full || se.HasErrorMessage(m)
		}
		if full {
			return &ophicleide.Error{Code: ophicleide.EFULL, Message: "the database's disk is full: nothing was stored; free space or delete models, then retry", Err: err}
		}
	}
	var ce mongo.CommandError
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) || errors.Is(err, mongo.ErrClientDisconnected) ||
		(errors.As(err, &ce) && ce.HasErrorLabel("NetworkError")) || strings.Contains(err.Error(), "server selection") {
		return &ophicleide.Error{Code: ophicleide.EUNAVAILABLE, Message: "the database does not answer", Err: err}
	}
	return err
}

// firstToken is the token a new job starts from: the clock in
// nanoseconds, so that the leases of a deleted model (whose tokens
// started at an earlier clock and grew by one per claim) never match the
// job of a model created again with its ID.
func firstToken() int64 { return time.Now().UnixNano() }

func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// putFile writes a GridFS file with write, or nothing if write fails.
func putFile(ctx context.Context, b *mongo.GridFSBucket, name string, write func(io.Writer) error) (string, error) {
	id := name + "/" + randomID()
	up, err := b.OpenUploadStreamWithID(ctx, id, name)
	if err != nil {
		return "", unavailable(err)
	}
	if err := write(up); err != nil {
		up.Abort()
		return "", err
	}
	if err := up.Close(); err != nil {
		up.Abort()
		return "", unavailable(err)
	}
	return id, nil
}

// deleteFiles removes GridFS files, ignoring ones already gone.
func deleteFiles(ctx context.Context, b *mongo.GridFSBucket, ids ...string) {
	for _, id := range ids {
		if id != "" {
			b.Delete(context.WithoutCancel(ctx), id)
		}
	}
}

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
	limit, err := p.CheckLimit()
	if err != nil {
		return nil, 0, err
	}
	after, err := p.Cursor()
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
	for _, u := range doc.UploadFiles {
		deleteFiles(ctx, s.uploads, u.File)
	}
	return nil
}

// OpenUpload reads an uploaded corpus file.
func (s *Store) OpenUpload(ctx context.Context, modelID, name string) (io.ReadCloser, error) {
	doc, err := s.findModel(ctx, modelID)
	if err != nil {
		return nil, fmt.Errorf("mongo: open upload: %w", err)
	}
	for _, u := range doc.UploadFiles {
		if u.Name == name {
			return s.openFile(ctx, s.uploads, u.File, "upload", modelID+"/"+name)
		}
	}
	return nil, fmt.Errorf("mongo: open upload: %w", notFound("upload", modelID+"/"+name))
}

func (s *Store) openFile(ctx context.Context, b *mongo.GridFSBucket, file, what, name string) (io.ReadCloser, error) {
	ds, err := b.OpenDownloadStream(ctx, file)
	if errors.Is(err, mongo.ErrFileNotFound) {
		return nil, fmt.Errorf("mongo: open %s: %w", what, notFound(what, name))
	}
	if err != nil {
		return nil, fmt.Errorf("mongo: open %s: %w", what, unavailable(err))
	}
	return ds, nil
}

// OpenVectors reads the vectors of a ready model, or returns ENOTFOUND.
func (s *Store) OpenVectors(ctx context.Context, modelID string) (io.ReadCloser, error) {
	doc, err := s.findModel(ctx, modelID)
	if err != nil {
		return nil, fmt.Errorf("mongo: open vectors: %w", err)
	}
	if doc.Status != ophicleide.StatusReady || doc.Vectors == "" {
		return nil, fmt.Errorf("mongo: open vectors: %w", notFound("vectors of model", modelID))
	}
	return s.openFile(ctx, s.vectors, doc.Vectors, "vectors", modelID)
}

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

// PageQueries returns one page of the queries (of one model unless
// modelID is ""), newest first (ties by descending ID): a range over the
// (created, _id) or (model, created, _id) index.
func (s *Store) PageQueries(ctx context.Context, modelID string, p ophicleide.Page) (*ophicleide.QueryPage, error) {
	filter := bson.M{}
	if modelID != "" {
		filter["model"] = modelID
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

// claimBatch is how many claimable jobs ClaimJob reads at once.
const claimBatch = 16

// ClaimJob leases the oldest claimable job (see the package doc).
func (s *Store) ClaimJob(ctx context.Context, owner string, d time.Duration) (*ophicleide.Lease, error) {
	for {
		now := time.Now()
		cur, err := s.jobs.Find(ctx, bson.M{"$or": bson.A{
			bson.M{"leased": false},
			bson.M{"expires": bson.M{"$lt": now}},
		}}, options.Find().SetSort(bson.D{{Key: "created", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(claimBatch))
		if err != nil {
			return nil, fmt.Errorf("mongo: claim job: %w", unavailable(err))
		}
		var jobs []jobDoc
		if err := cur.All(ctx, &jobs); err != nil {
			return nil, fmt.Errorf("mongo: claim job: %w", unavailable(err))
		}
		if len(jobs) == 0 {
			return nil, nil
		}
		for _, j := range jobs {
			l, err := s.claim(ctx, j, owner, d)
			if err != nil || l != nil {
				return l, err
			}
		}
		// Every candidate went to someone else: look again.
	}
}

// claim tries to take job j as it was read; nil if another claimer won.
func (s *Store) claim(ctx context.Context, j jobDoc, owner string, d time.Duration) (*ophicleide.Lease, error) {
	token := j.Token + 1
	_, err := s.leases.InsertOne(ctx, bson.M{"_id": fmt.Sprintf("%s/%d", j.Nonce, token), "job": j.Nonce, "owner": owner, "at": time.Now()})
	if mongo.IsDuplicateKeyError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mongo: claim job: %w", unavailable(err))
	}
	attempt := j.Attempt + 1
	if j.Released {
		attempt = j.Attempt
	}
	now := time.Now()
	l := &ophicleide.Lease{ModelID: j.ID, Owner: owner, Token: token, Attempt: attempt, Expires: now.Add(d)}
	res, err := s.jobs.UpdateOne(ctx, bson.M{"_id": j.ID, "token": j.Token, "nonce": j.Nonce}, bson.M{"$set": bson.M{
		"leased": true, "token": token, "owner": owner, "expires": l.Expires, "attempt": attempt, "released": false,
	}})
	if err != nil {
		return nil, fmt.Errorf("mongo: claim job: %w", unavailable(err))
	}
	if res.MatchedCount == 0 {
		return nil, nil // deleted meanwhile
	}
	// Only a model still waiting or training is taken: one that ended
	// meanwhile (its holder finished just as its lease lapsed, or a crash
	// came between the end of a job and the removal of its document) keeps
	// its state, and the job document is dropped.
	res, err = s.models.UpdateOne(ctx, bson.M{"_id": j.ID, "status": bson.M{"$in": bson.A{ophicleide.StatusQueued, ophicleide.StatusTraining}}}, bson.M{
		"$set":   bson.M{"status": ophicleide.StatusTraining, "jobToken": token, "updated": now},
		"$unset": bson.M{"progress": "", "error": ""},
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: claim job: %w", unavailable(err))
	}
	if res.MatchedCount == 0 {
		if _, err := s.jobs.DeleteOne(ctx, bson.M{"_id": j.ID, "token": token}); err == nil {
			s.leases.DeleteMany(ctx, bson.M{"job": j.Nonce})
		}
		return nil, nil
	}
	return l, nil
}

// leaseLost is the error of every lease method whose lease is not current.
func leaseLost(op string) error {
	return fmt.Errorf("mongo: %s: %w", op, ophicleide.ErrLeaseLost)
}

// currentJob checks that l holds the job's current lease (PutVectors asks
// before it uploads a file for nothing).
func (s *Store) currentJob(ctx context.Context, op string, l *ophicleide.Lease) error {
	n, err := s.jobs.CountDocuments(ctx, bson.M{"_id": l.ModelID, "token": l.Token, "leased": true})
	if err != nil {
		return fmt.Errorf("mongo: %s: %w", op, unavailable(err))
	}
	if n == 0 {
		return leaseLost(op)
	}
	return nil
}

// RenewLease extends the lease to now+d. It does not change l.
func (s *Store) RenewLease(ctx context.Context, l *ophicleide.Lease, d time.Duration) error {
	expires := time.Now().Add(d)
	res, err := s.jobs.UpdateOne(ctx, bson.M{"_id": l.ModelID, "token": l.Token, "leased": true}, bson.M{"$set": bson.M{"expires": expires}})
	if err != nil {
		return fmt.Errorf("mongo: renew lease: %w", unavailable(err))
	}
	if res.MatchedCount == 0 {
		return leaseLost("renew lease")
	}
	return nil
}

// updateTraining applies update to the model of l while l holds it: the
// model's jobToken is the current lease's token, and a released job's
// model is queued again.
func (s *Store) updateTraining(ctx context.Context, op string, l *ophicleide.Lease, update bson.M) error {
	res, err := s.models.UpdateOne(ctx, bson.M{"_id": l.ModelID, "jobToken": l.Token, "status": ophicleide.StatusTraining}, update)
	if err != nil {
		return fmt.Errorf("mongo: %s: %w", op, unavailable(err))
	}
	if res.MatchedCount == 0 {
		return leaseLost(op)
	}
	return nil
}

// UpdateProgress records the job's progress on its model.
func (s *Store) UpdateProgress(ctx context.Context, l *ophicleide.Lease, p ophicleide.Progress) error {
	return s.updateTraining(ctx, "update progress", l, bson.M{"$set": bson.M{"progress": p, "updated": time.Now()}})
}

// PutVectors stores the vectors, replacing earlier ones of the model.
func (s *Store) PutVectors(ctx context.Context, l *ophicleide.Lease, write func(io.Writer) error) error {
	if err := s.currentJob(ctx, "put vectors", l); err != nil {
		return err
	}
	file, err := putFile(ctx, s.vectors, l.ModelID, write)
	if err != nil {
		return fmt.Errorf("mongo: put vectors: %w", err)
	}
	var old modelDoc
	err = s.models.FindOneAndUpdate(ctx, bson.M{"_id": l.ModelID, "jobToken": l.Token, "status": ophicleide.StatusTraining},
		bson.M{"$set": bson.M{"vectorsFile": file, "updated": time.Now()}}).Decode(&old)
	if err != nil {
		deleteFiles(ctx, s.vectors, file)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return leaseLost("put vectors")
		}
		return fmt.Errorf("mongo: put vectors: %w", unavailable(err))
	}
	deleteFiles(ctx, s.vectors, old.Vectors)
	return nil
}

// finish ends the job of l with the model update, then removes the job.
// Repeating it after it succeeded, with the same lease and status, is a
// no-op.
func (s *Store) finish(ctx context.Context, op string, l *ophicleide.Lease, status ophicleide.Status, set bson.M, unset bson.M) error {
	set["status"], set["updated"] = status, time.Now()
	unset["uploadFiles"] = "" // no retry will read them: deleted below
	var old modelDoc
	err := s.models.FindOneAndUpdate(ctx, bson.M{"_id": l.ModelID, "jobToken": l.Token, "status": ophicleide.StatusTraining},
		bson.M{"$set": set, "$unset": unset}).Decode(&old)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("mongo: %s: %w", op, unavailable(err))
	}
	if errors.Is(err, mongo.ErrNoDocuments) {
		// Done already by this lease (a repeat), or lost.
		doc, err := s.findModel(ctx, l.ModelID)
		if err == nil && doc.JobToken == l.Token && doc.Status == status {
			return nil
		}
		return leaseLost(op)
	}
	var job jobDoc
	if s.jobs.FindOneAndDelete(ctx, bson.M{"_id": l.ModelID, "token": l.Token}).Decode(&job) == nil {
		s.leases.DeleteMany(ctx, bson.M{"job": job.Nonce})
	}
	for _, u := range old.UploadFiles {
		deleteFiles(ctx, s.uploads, u.File)
	}
	return nil
}

// CompleteJob marks the model ready with stats and removes its job.
func (s *Store) CompleteJob(ctx context.Context, l *ophicleide.Lease, stats ophicleide.Stats) error {
	return s.finish(ctx, "complete job", l, ophicleide.StatusReady, bson.M{"stats": stats}, bson.M{"progress": "", "error": ""})
}

// FailJob marks the model failed with reason and removes its job.
func (s *Store) FailJob(ctx context.Context, l *ophicleide.Lease, reason string) error {
	return s.finish(ctx, "fail job", l, ophicleide.StatusFailed, bson.M{"error": reason}, bson.M{"progress": ""})
}

// ReleaseJob puts the job back in the queue and the model back to queued.
func (s *Store) ReleaseJob(ctx context.Context, l *ophicleide.Lease) error {
	res, err := s.jobs.UpdateOne(ctx, bson.M{"_id": l.ModelID, "token": l.Token, "leased": true},
		bson.M{"$set": bson.M{"leased": false, "released": true, "owner": ""}})
	if err != nil {
		return fmt.Errorf("mongo: release job: %w", unavailable(err))
	}
	if res.MatchedCount == 0 {
		return leaseLost("release job")
	}
	_, err = s.models.UpdateOne(ctx, bson.M{"_id": l.ModelID, "jobToken": l.Token},
		bson.M{"$set": bson.M{"status": ophicleide.StatusQueued, "updated": time.Now()}, "$unset": bson.M{"progress": ""}})
	if err != nil {
		return fmt.Errorf("mongo: release job: %w", unavailable(err))
	}
	return nil
}

// QueueLength counts unfinished jobs.
func (s *Store) QueueLength(ctx context.Context) (int, error) {
	n, err := s.jobs.CountDocuments(ctx, bson.M{})
	if err != nil {
		return 0, fmt.Errorf("mongo: queue length: %w", unavailable(err))
	}
	return int(n), nil
}
