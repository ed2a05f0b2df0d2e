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

// gridChunk is the GridFS chunk size: 4 MiB, not the default 255 KiB, so a
// 24 MB model is 6 round trips, not 94 (well under the 16 MiB document
// limit).
const gridChunk = 4 << 20

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

var _ ophicleide.VectorVersioner = (*Store)(nil)

// VectorVersion implements ophicleide.VectorVersioner: the version is the
// id of the model's GridFS file (a new one every PutVectors or import:
// putFile), the size its length, both read without a chunk.
func (s *Store) VectorVersion(ctx context.Context, modelID string) (string, int64, error) {
	doc, err := s.findModel(ctx, modelID)
	if err != nil {
		return "", 0, fmt.Errorf("mongo: vector version: %w", err)
	}
	if doc.Status != ophicleide.StatusReady || doc.Vectors == "" {
		return "", 0, fmt.Errorf("mongo: vector version: %w", notFound("vectors of model", modelID))
	}
	var f struct {
		Length int64 `bson:"length"`
	}
	err = s.vectors.GetFilesCollection().FindOne(ctx, bson.M{"_id": doc.Vectors}).Decode(&f)
	if errors.Is(err, mongo.ErrNoDocuments) { // replaced and deleted meanwhile
		return "", 0, fmt.Errorf("mongo: vector version: %w", notFound("vectors of model", modelID))
	}
	if err != nil {
		return "", 0, fmt.Errorf("mongo: vector version: %w", unavailable(err))
	}
	return doc.Vectors, f.Length, nil
}

var _ ophicleide.IndexStore = (*Store)(nil)

// indexDoc is a document of the indexes collection (created on first
// use): the GridFS file (in the vectors bucket) of a model's approximate
// index and the vectors file it was built over. A separate collection,
// not a field of the model's document, so that nothing that rewrites a
// model can lose the file's id.
type indexDoc struct {
	ID      string `bson:"_id"`     // the model's
	File    string `bson:"file"`    // GridFS id in the vectors bucket
	Vectors string `bson:"vectors"` // the model's vectorsFile when it was stored
}

func (s *Store) indexes() *mongo.Collection { return s.db.Collection("indexes") }

// PutIndex implements ophicleide.IndexStore. The file is written first,
// then the document pointing at it, then the model is looked for again:
// DeleteModel deletes the model before the index document, so a delete
// that raced the write is seen by one of the two and nothing is kept.
func (s *Store) PutIndex(ctx context.Context, modelID string, write func(io.Writer) error) error {
	doc, err := s.findModel(ctx, modelID)
	if err != nil {
		return fmt.Errorf("mongo: put index: %w", err)
	}
	if doc.Status != ophicleide.StatusReady || doc.Vectors == "" {
		return fmt.Errorf("mongo: put index: %w", notFound("vectors of model", modelID))
	}
	file, err := putFile(ctx, s.vectors, modelID+".ann", write)
	if err != nil {
		return fmt.Errorf("mongo: put index: %w", err)
	}
	var old indexDoc
	err = s.indexes().FindOneAndReplace(ctx, bson.M{"_id": modelID}, indexDoc{ID: modelID, File: file, Vectors: doc.Vectors},
		options.FindOneAndReplace().SetUpsert(true)).Decode(&old)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		deleteFiles(ctx, s.vectors, file)
		return fmt.Errorf("mongo: put index: %w", unavailable(err))
	}
	deleteFiles(ctx, s.vectors, old.File)
	if now, err := s.findModel(ctx, modelID); err != nil || now.Status != ophicleide.StatusReady {
		s.deleteIndex(ctx, modelID)
		if err == nil || ophicleide.ErrorCode(err) == ophicleide.ENOTFOUND {
			err = notFound("vectors of model", modelID)
		}
		return fmt.Errorf("mongo: put index: %w", err)
	}
	return nil
}

// OpenIndex implements ophicleide.IndexStore: the GridFS stream of the
// index, if it was built over the model's current vectors (one of
// replaced vectors is ENOTFOUND, as none).
func (s *Store) OpenIndex(ctx context.Context, modelID string) (io.ReadCloser, error) {
	doc, err := s.findModel(ctx, modelID)
	if err != nil {
		return nil, fmt.Errorf("mongo: open index: %w", err)
	}
	if doc.Status != ophicleide.StatusReady || doc.Vectors == "" {
		return nil, fmt.Errorf("mongo: open index: %w", notFound("index of model", modelID))
	}
	var ix indexDoc
	err = s.indexes().FindOne(ctx, bson.M{"_id": modelID}).Decode(&ix)
	if errors.Is(err, mongo.ErrNoDocuments) || err == nil && ix.Vectors != doc.Vectors {
		return nil, fmt.Errorf("mongo: open index: %w", notFound("index of model", modelID))
	}
	if err != nil {
		return nil, fmt.Errorf("mongo: open index: %w", unavailable(err))
	}
	return s.openFile(ctx, s.vectors, ix.File, "index", modelID)
}

// deleteIndex removes a model's index document and file, if any.
func (s *Store) deleteIndex(ctx context.Context, modelID string) {
	ctx = context.WithoutCancel(ctx)
	var ix indexDoc
	if s.indexes().FindOneAndDelete(ctx, bson.M{"_id": modelID}).Decode(&ix) == nil {
		deleteFiles(ctx, s.vectors, ix.File)
	}
}
