package spark

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/sparkconnect"
)

// TestFailureWords maps Spark's errors, as Spark 4.3 words them (read
// off a real server, and off MLlib's Word2Vec), to the reasons a failed
// model shows.
func TestFailureWords(t *testing.T) {
	cases := []struct {
		err       *sparkconnect.Error
		says, not string
	}{
		// A server started with ...mlCache.memoryControl.maxModelSize=10k,
		// fitting Pride and Prejudice.
		{&sparkconnect.Error{Code: codes.Internal, Class: "CONNECT_ML.MODEL_SIZE_OVERFLOW_EXCEPTION",
			Message: "[CONNECT_ML.MODEL_SIZE_OVERFLOW_EXCEPTION] Generic Spark Connect ML error. The fitted or loaded model size is about 1051296 bytes."},
			"larger than the Spark Connect server's ML cache allows", ""},
		// Word2Vec.fit's require (vocabulary x vector size over Int.MaxValue).
		{&sparkconnect.Error{Code: codes.Internal, Message: "requirement failed: Please increase minCount or decrease vectorSize in Word2Vec to avoid an OOM. You are highly recommended to make your vocabSize*vectorSize, which is 3000000*1000 for now, less than `Int.MaxValue`."},
			"vocabulary is too large for Spark's Word2Vec", ""},
		{&sparkconnect.Error{Code: codes.Internal, Message: "requirement failed: The vocabulary size should be > 0. You may need to check the setting of minCount, which could be large enough to remove all your words in sentences."},
			"no word occurs minCount times", "too large"},
		{&sparkconnect.Error{Code: codes.Internal, Class: "PATH_NOT_FOUND", Message: "[PATH_NOT_FOUND] Path does not exist: s3a://bucket/missing.txt. SQLSTATE: 42K03"},
			"Spark cannot read an input: [PATH_NOT_FOUND] Path does not exist: s3a://bucket/missing.txt", ""},
		{&sparkconnect.Error{Code: codes.Internal, Message: "org.apache.hadoop.fs.UnsupportedFileSystemException: No FileSystem for scheme \"s3a\""},
			"hadoop-aws", ""},
		{&sparkconnect.Error{Code: codes.Unavailable, Message: "connection error: desc = \"transport: Error while dialing: dial tcp 10.1.2.3:15002: connect: connection refused\""},
			"cannot be reached", "10.1.2.3"},
		// Anything else: the class only (messages may name the server's files).
		{&sparkconnect.Error{Code: codes.Internal, Class: "INTERNAL_ERROR", Message: "[INTERNAL_ERROR] failed at /opt/spark/work-dir/blockmgr-1/x on spark-0.cluster.local"},
			"INTERNAL_ERROR", "/opt/spark"},
		{&sparkconnect.Error{Code: codes.Internal, Message: "java.lang.OutOfMemoryError: Java heap space"},
			"ran out of memory", ""},
	}
	for _, c := range cases {
		err := failure(c.err)
		msg := ophicleide.ErrorMessage(err)
		if ophicleide.ErrorCode(err) != ophicleide.EINVALID || !strings.Contains(msg, c.says) || (c.not != "" && strings.Contains(msg, c.not)) {
			t.Errorf("%q\n -> %s %q, want it to say %q and not %q", c.err.Message, ophicleide.ErrorCode(err), msg, c.says, c.not)
		}
	}
}
