package mongo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ophicleide/ophicleide"
)

// DefaultDatabase is used when the URL names none (the original's).
const DefaultDatabase = "ophicleide"

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
		{s.models, bson.D{{Key: "owner", Value: 1}, {Key: "status", Value: 1}}},
		{s.queries, bson.D{{Key: "created", Value: -1}, {Key: "_id", Value: -1}}},
		{s.queries, bson.D{{Key: "model", Value: 1}, {Key: "created", Value: -1}, {Key: "_id", Value: -1}}},
		{s.queries, bson.D{{Key: "owner", Value: 1}, {Key: "created", Value: -1}, {Key: "_id", Value: -1}}},
		{s.queries, bson.D{{Key: "owner", Value: 1}, {Key: "model", Value: 1}, {Key: "created", Value: -1}, {Key: "_id", Value: -1}}},
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
