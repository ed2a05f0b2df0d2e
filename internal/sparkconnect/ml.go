package sparkconnect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"
	"google.golang.org/grpc"
)

func newOperationID() string { return uuid.NewString() }

// chunkBytes is the size of one uploaded artifact chunk.
const chunkBytes = 1 << 20

// UploadRows uploads rows (an Arrow IPC stream of size bytes, such as a
// RowsFile) to the session's artifact cache and returns the relation of
// those rows. The data goes up in chunks (a LocalRelation message, as
// pyspark caches large local data): it is never one message, so no gRPC
// message limit bounds it; the server's driver holds it.
func (s *Session) UploadRows(ctx context.Context, rows io.ReadSeeker, size int64) (Relation, error) {
	prefix := localRelationPrefix(size)
	total := int64(len(prefix)) + size
	sum := sha256.New()
	sum.Write(prefix)
	if _, err := rows.Seek(0, io.SeekStart); err != nil {
		return Relation{}, err
	}
	if n, err := io.Copy(sum, rows); err != nil || n != size {
		return Relation{}, fmt.Errorf("spark: reading the rows to upload: %d of %d bytes: %v", n, size, err)
	}
	hash := hex.EncodeToString(sum.Sum(nil))
	if _, err := rows.Seek(0, io.SeekStart); err != nil {
		return Relation{}, err
	}
	src := io.MultiReader(bytes.NewReader(prefix), rows)
	chunks := (total + chunkBytes - 1) / chunkBytes

	stream, err := s.conn.cc.NewStream(s.ctx(ctx), &grpc.StreamDesc{ClientStreams: true}, service+"AddArtifacts")
	if err != nil {
		return Relation{}, ctxOr(ctx, wrap(err))
	}
	buf := make([]byte, chunkBytes)
	for i := int64(0); i < chunks; i++ {
		n, err := io.ReadFull(src, buf)
		if err != nil && err != io.ErrUnexpectedEOF {
			return Relation{}, fmt.Errorf("spark: reading the rows to upload: %w", err)
		}
		data := buf[:n]
		crc := crc32.NewIEEE()
		crc.Write(data)
		var req = s.s.artifactChunk(data, crc.Sum(nil))
		if chunks == 1 {
			req = s.s.artifactSingle("cache/"+hash, data, crc.Sum(nil))
		} else if i == 0 {
			req = s.s.artifactBegin("cache/"+hash, total, chunks, data, crc.Sum(nil))
		}
		if err := stream.SendMsg(req); err != nil {
			break // the server's error comes with RecvMsg
		}
	}
	if err := stream.CloseSend(); err != nil {
		return Relation{}, ctxOr(ctx, wrap(err))
	}
	resp := newAnswer("AddArtifactsResponse")
	if err := stream.RecvMsg(resp); err != nil {
		return Relation{}, ctxOr(ctx, wrap(err))
	}
	if !artifactsAccepted(resp) {
		return Relation{}, fmt.Errorf("spark: the server refused the uploaded rows (checksum mismatch)")
	}
	return CachedRelation(hash), nil
}

// Fit fits the estimator (a class name such as
// org.apache.spark.ml.feature.Word2Vec) with params on dataset and
// returns the fitted model's reference and the server's warning, if
// any; progress receives the stages' progress as the fit runs. The model
// lives in the session until Delete or Close.
func (s *Session) Fit(ctx context.Context, estimator string, params map[string]any, dataset Relation, progress func([]Stage)) (ref, warning string, err error) {
	err = s.execute(ctx, fitPlan(estimator, params, dataset.o), handler{
		modelRef: func(r, w string) { ref, warning = r, w },
		progress: progress,
	})
	if err == nil && ref == "" {
		err = fmt.Errorf("spark: the fit ended without a model")
	}
	return ref, warning, err
}

// Delete frees fitted models of the session.
func (s *Session) Delete(ctx context.Context, refs ...string) error {
	return s.execute(ctx, deletePlan(refs...), handler{})
}

// Vectors is the relation of a fitted Word2VecModel's vectors (its
// getVectors), with columns word (string) and vector (array<float>).
func Vectors(ref string) Relation {
	return vectorsAsArrays(modelAttribute(ref, "getVectors"))
}

// Rows runs r and gives each Arrow record of its answer to fn, in order.
// A record is valid only during the call.
func (s *Session) Rows(ctx context.Context, r Relation, progress func([]Stage), fn func(arrow.Record) error) error {
	return s.execute(ctx, rootPlan(r.o), handler{
		progress: progress,
		arrow: func(data []byte) error {
			rd, err := ipc.NewReader(bytes.NewReader(data), ipc.WithAllocator(memory.DefaultAllocator))
			if err != nil {
				return fmt.Errorf("spark: decoding an Arrow batch: %w", err)
			}
			defer rd.Release()
			for rd.Next() {
				if err := fn(rd.Record()); err != nil {
					return err
				}
			}
			if err := rd.Err(); err != nil && err != io.EOF {
				return fmt.Errorf("spark: decoding an Arrow batch: %w", err)
			}
			return nil
		},
	})
}
