// Package mongo is the MongoDB store of Ophicleide, for production: several
// api and worker processes share one database. It uses the official driver
// (go.mongodb.org/mongo-driver/v2) and no feature FerretDB lacks
// (transactions, change streams, TTL or partial indexes):
//
//	models    one document per model: the Model's fields, plus the GridFS
//	          ids of its vectors and uploads and the token of its job's
//	          current lease (jobToken), which fences stale lease holders;
//	          indexed by (owner, status) for the per-key quotas (Usage)
//	jobs      one document per unfinished training job (_id = model id)
//	leases    one document per claim of a job, _id "<job nonce>/<token>":
//	          the unique _id is what makes a claim exclusive
//	queries   the query history (at most Config.MaxQueries, give or take
//	          100 inserts per process: see CreateQuery), indexed by
//	          (created, _id), (model, created, _id), (owner, created, _id)
//	          and (owner, model, created, _id) for pages; a query without
//	          an owner has no owner field (null in the indexes)
//	vectors.files/.chunks, uploads.files/.chunks   GridFS buckets (a
//	          model's uploads are kept while its job is unfinished, and
//	          deleted when it ends ready or failed, or is deleted)
//
// Claims are made exclusive by the unique _id of the lease documents, not
// by findOneAndUpdate: claim.go explains the protocol.
//
// There are no multi-document transactions: multi-step changes are ordered
// so that a crash in between leaves nothing visible (files are written
// before the document that points at them; a model is inserted before its
// job, and deleted first).
//
// Files of the package: mongo.go (this, the Store and its documents),
// open.go (Open, indexes, the BSON registry), errors.go (driver errors to
// the domain's codes), models.go, queries.go, claim.go (the claim
// protocol), jobs.go (leases and the ends of a job), files.go (GridFS:
// uploads and vectors).
package mongo

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/ophicleide/ophicleide"
)

var _ ophicleide.Store = (*Store)(nil)

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

func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
