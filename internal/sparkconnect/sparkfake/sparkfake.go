// Package sparkfake is a FAKE Spark Connect server, for tests only. It is
// an in-process gRPC server on 127.0.0.1 that answers the few requests
// internal/sparkconnect sends the way a Spark 4 Connect server does, and
// that tests can script to do what a real Spark cannot be made to do on
// demand: report an old version, end answer streams early (so that the
// client must reattach), fail with a chosen error class, block a fit
// until it is interrupted.
//
// It is no Spark. It trains nothing: a fit's "model" has made-up vectors
// (Vector) for the words of the uploaded sentences seen minCount times or
// more. It recognises the plans internal/trainer/spark sends by their
// shape and expression strings (a fit, a delete, getVectors, the word
// counts, the word total) and refuses any other. Tests against a real
// Spark use internal/sparkconnect/sparktest.
package sparkfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/apache/spark-connect-go/spark/client" // registers spark.connect.*
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Options script the fake. They are fixed when it starts.
type Options struct {
	// Version is the Spark version reported ("4.0.1" when "").
	Version string
	// EndStreamAfter > 0 ends every ExecutePlan and ReattachExecute
	// answer stream after that many answers, without result_complete.
	EndStreamAfter int
	// Progress is how many execution_progress answers come before a
	// fit's result (one stage, one more task done each time).
	Progress int
	// BatchRows is how many vectors one arrow_batch holds (all when 0).
	BatchRows int
	// BlockFit makes a fit wait, after its progress, until it is
	// interrupted (Interrupt, ReleaseSession) or its stream ends; Blocked
	// tells when one waits.
	BlockFit bool
	// Warning is the fit result's warning_message.
	Warning string
	// Fail makes requests of a kind fail with the error (see Status).
	// Kinds are the methods AnalyzePlan, AddArtifacts, Interrupt,
	// ReleaseSession, ReleaseExecute, ReattachExecute and, for
	// ExecutePlan, its plan's: fit, delete, vectors, counts, total.
	Fail map[string]error
	// FailAfter is how many progress answers an ExecutePlan that fails
	// sends first (0: it fails at once).
	FailAfter int
}

// Request is one request the fake received.
type Request struct {
	Method         string // ExecutePlan, ReattachExecute, Interrupt, ...
	Kind           string // an ExecutePlan's plan: fit, delete, vectors, counts, total, unknown
	Session        string // session_id
	Operation      string // operation_id, when the request has one
	Tags           []string
	LastResponseID string            // ReattachExecute's last_response_id
	InterruptType  string            // INTERRUPT_TYPE_TAG, ...
	OperationTag   string            // an Interrupt's tag
	Observed       string            // client_observed_server_side_session_id
	Params         map[string]string // a fit's estimator params, as text
	Chunks         int               // AddArtifacts: messages in the stream
	Metadata       metadata.MD
}

// Server is the fake. Its URL is sc://127.0.0.1:PORT.
type Server struct {
	URL, Addr string

	opts    Options
	srv     *grpc.Server
	blocked chan string

	mu        sync.Mutex
	requests  []Request
	ops       map[string]*operation
	artifacts map[string][][]string // hash -> sentences
	uploaded  [][]string            // the last artifact's sentences
	models    map[string]model
}

type model struct {
	hash          string
	dim, minCount int
}

// operation is one execution: its answers, and where it blocks or fails.
type operation struct {
	id, session string
	tags        []string
	answers     []proto.Message
	hold        int   // answers sent before it blocks or fails (-1: never)
	err         error // its failure, at hold
	block       bool
	stop        chan struct{} // closed when interrupted
	once        sync.Once
}

func (o *operation) interrupt() { o.once.Do(func() { close(o.stop) }) }

// Start starts a fake for the test, stopped when it ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.Version == "" {
		o.Version = "4.0.1"
	}
	s := &Server{Addr: lis.Addr().String(), opts: o, blocked: make(chan string, 64),
		ops: map[string]*operation{}, artifacts: map[string][][]string{}, models: map[string]model{}}
	s.URL = "sc://" + s.Addr
	s.srv = grpc.NewServer(grpc.UnknownServiceHandler(s.handle))
	go s.srv.Serve(lis)
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the server and what runs in it.
func (s *Server) Stop() {
	s.mu.Lock()
	for _, op := range s.ops {
		op.interrupt()
	}
	s.mu.Unlock()
	s.srv.Stop()
}

// Requests are the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Uploaded is the sentences of the last artifact uploaded.
func (s *Server) Uploaded() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uploaded
}

// Blocked receives the operation id of each fit that starts waiting
// (Options.BlockFit).
func (s *Server) Blocked() <-chan string { return s.blocked }

// ServerSession is the server-side session id the fake gives session.
func ServerSession(session string) string { return "fake-server-" + session }

// Vector is the fake's vector of word in a model of dimension dim.
func Vector(word string, dim int) []float32 {
	v := make([]float32, dim)
	h := float32(crc32.ChecksumIEEE([]byte(word))%1000) / 1000
	for i := range v {
		v[i] = float32(i+1) + h
	}
	return v
}

// Status is an error as Spark sends it: the gRPC code, the message and a
// google.rpc.ErrorInfo (Spark attaches one to every error) whose metadata
// errorClass is class, when class is not "".
func Status(code codes.Code, class, msg string) error {
	md := map[string]string{"classes": `["org.apache.spark.SparkException"]`}
	if class != "" {
		md["errorClass"] = class
	}
	st, err := status.New(code, msg).WithDetails(&errdetails.ErrorInfo{Reason: "org.apache.spark.SparkException", Domain: "org.apache.spark", Metadata: md})
	if err != nil {
		panic(err)
	}
	return st.Err()
}

const service = "/spark.connect.SparkConnectService/"

func (s *Server) handle(_ any, stream grpc.ServerStream) error {
	full, _ := grpc.MethodFromServerStream(stream)
	method, ok := strings.CutPrefix(full, service)
	if !ok {
		return status.Errorf(codes.Unimplemented, "sparkfake: no method %s", full)
	}
	if method == "AddArtifacts" {
		return s.addArtifacts(stream)
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName("spark.connect." + method + "Request"))
	if err != nil {
		return status.Errorf(codes.Unimplemented, "sparkfake: no method %s", full)
	}
	req := mt.New()
	if err := stream.RecvMsg(req.Interface()); err != nil {
		return err
	}
	field := func(name string) string { // "" when req has no such field
		if fd := req.Descriptor().Fields().ByName(protoreflect.Name(name)); fd != nil {
			return req.Get(fd).String()
		}
		return ""
	}
	r := Request{Method: method, Session: field("session_id"), Observed: field("client_observed_server_side_session_id"), Operation: field("operation_id")}
	r.Metadata, _ = metadata.FromIncomingContext(stream.Context())
	answer := func(name string, fields map[string]any) error {
		fields["session_id"] = r.Session
		fields["server_side_session_id"] = ServerSession(r.Session)
		return stream.SendMsg(message(name, fields))
	}
	switch method {
	case "ExecutePlan":
		return s.execute(stream, req, r)
	case "ReattachExecute":
		r.LastResponseID = str(req, "last_response_id")
		s.record(r)
		if err := s.opts.Fail[method]; err != nil {
			return err
		}
		return s.reattach(stream, r)
	case "AnalyzePlan":
		s.record(r)
		if err := s.opts.Fail[method]; err != nil {
			return err
		}
		if !req.Has(req.Descriptor().Fields().ByName("spark_version")) {
			return status.Error(codes.Unimplemented, "sparkfake: only spark_version is analysed")
		}
		return answer("AnalyzePlanResponse", map[string]any{"spark_version": map[string]any{"version": s.opts.Version}})
	case "Interrupt":
		fd := req.Descriptor().Fields().ByName("interrupt_type")
		r.InterruptType = string(fd.Enum().Values().ByNumber(req.Get(fd).Enum()).Name())
		r.OperationTag = str(req, "operation_tag")
		s.record(r)
		if err := s.opts.Fail[method]; err != nil {
			return err
		}
		var ids []string
		s.mu.Lock()
		for _, op := range s.ops {
			if op.session == r.Session && (r.InterruptType == "INTERRUPT_TYPE_ALL" ||
				r.InterruptType == "INTERRUPT_TYPE_TAG" && slices.Contains(op.tags, r.OperationTag) ||
				r.InterruptType == "INTERRUPT_TYPE_OPERATION_ID" && op.id == r.Operation) {
				op.interrupt()
				ids = append(ids, op.id)
			}
		}
		s.mu.Unlock()
		return answer("InterruptResponse", map[string]any{"interrupted_ids": ids})
	case "ReleaseSession":
		s.record(r)
		if err := s.opts.Fail[method]; err != nil {
			return err
		}
		s.mu.Lock()
		for id, op := range s.ops {
			if op.session == r.Session {
				op.interrupt()
				delete(s.ops, id)
			}
		}
		s.mu.Unlock()
		return answer("ReleaseSessionResponse", map[string]any{})
	case "ReleaseExecute":
		s.record(r)
		if err := s.opts.Fail[method]; err != nil {
			return err
		}
		return answer("ReleaseExecuteResponse", map[string]any{"operation_id": r.Operation})
	}
	return status.Errorf(codes.Unimplemented, "sparkfake: no method %s", full)
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.mu.Unlock()
}

// execute starts an operation: its answers are made now, sent by send.
func (s *Server) execute(stream grpc.ServerStream, req protoreflect.Message, r Request) error {
	tags := req.Get(req.Descriptor().Fields().ByName("tags")).List()
	for i := 0; i < tags.Len(); i++ {
		r.Tags = append(r.Tags, tags.Get(i).String())
	}
	plan := toMap(get(req, "plan").Message().Interface())
	r.Kind = kindOf(plan)
	if r.Kind == "fit" {
		r.Params = map[string]string{}
		ps, _ := dig(plan, "command", "ml_command", "fit", "params", "params").(map[string]any)
		for k, v := range ps {
			for _, x := range v.(map[string]any) { // the literal's one field
				r.Params[k] = fmt.Sprint(x)
			}
		}
	}
	s.record(r)
	op := &operation{id: r.Operation, session: r.Session, tags: r.Tags, hold: -1, stop: make(chan struct{})}
	if err := s.opts.Fail[r.Kind]; err != nil {
		for i := 0; i < s.opts.FailAfter; i++ {
			op.answers = append(op.answers, s.progress(op, i, s.opts.FailAfter))
		}
		op.hold, op.err = len(op.answers), err
	} else if err := s.answers(op, r, plan); err != nil {
		return err
	}
	s.mu.Lock()
	s.ops[op.id] = op
	s.mu.Unlock()
	return s.send(stream, op, 0)
}

// answers makes op's answers to plan.
func (s *Server) answers(op *operation, r Request, plan map[string]any) error {
	add := func(fields map[string]any) {
		fields["session_id"] = op.session
		fields["server_side_session_id"] = ServerSession(op.session)
		fields["operation_id"] = op.id
		fields["response_id"] = fmt.Sprintf("%s/%d", op.id, len(op.answers))
		op.answers = append(op.answers, message("ExecutePlanResponse", fields))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hash, _ := find(plan, "cached_local_relation")["hash"].(string)
	sentences, uploaded := s.artifacts[hash]
	switch r.Kind {
	case "fit":
		if !uploaded {
			return Status(codes.Internal, "CACHE_NOT_FOUND", "sparkfake: the fit's dataset is no uploaded artifact")
		}
		ref := fmt.Sprintf("model-%d", len(s.models)+1)
		m := model{hash: hash, dim: 100, minCount: 5}
		fmt.Sscan(r.Params["vectorSize"], &m.dim)
		fmt.Sscan(r.Params["minCount"], &m.minCount)
		s.models[ref] = m
		for i := 0; i < s.opts.Progress; i++ {
			op.answers = append(op.answers, s.progress(op, i, s.opts.Progress))
		}
		if s.opts.BlockFit {
			op.hold, op.block = len(op.answers), true
		}
		info := map[string]any{"obj_ref": map[string]any{"id": ref}}
		if s.opts.Warning != "" {
			info["warning_message"] = s.opts.Warning
		}
		add(map[string]any{"ml_command_result": map[string]any{"operator_info": info}})
	case "delete":
		refs, _ := dig(plan, "command", "ml_command", "delete", "obj_refs").([]any)
		for _, ref := range refs {
			id, _ := ref.(map[string]any)["id"].(string)
			delete(s.models, id)
		}
	case "vectors":
		ref, _ := find(plan, "obj_ref")["id"].(string)
		m, ok := s.models[ref]
		if !ok {
			return Status(codes.Internal, "CACHE_INVALID", "sparkfake: no model "+ref)
		}
		counts := countWords(s.artifacts[m.hash])
		var words []string
		for w, n := range counts {
			if n >= int64(m.minCount) {
				words = append(words, w)
			}
		}
		slices.Sort(words) // not by frequency, as getVectors is not
		per := s.opts.BatchRows
		if per <= 0 {
			per = max(len(words), 1)
		}
		for chunk := range slices.Chunk(words, per) {
			add(map[string]any{"arrow_batch": map[string]any{"row_count": len(chunk), "data": vectorsIPC(chunk, m.dim)}})
		}
	case "counts":
		if !uploaded {
			return Status(codes.Internal, "CACHE_NOT_FOUND", "sparkfake: the counts' dataset is no uploaded artifact")
		}
		var least int64
		cond, _ := dig(plan, "root", "filter", "condition", "expression_string", "expression").(string)
		if _, err := fmt.Sscanf(cond, "n >= %d", &least); err != nil {
			return status.Errorf(codes.Unimplemented, "sparkfake: counts filtered by %q", cond)
		}
		counts := countWords(sentences)
		var words []string
		var ns []int64
		for _, w := range slices.Sorted(maps.Keys(counts)) {
			if counts[w] >= least {
				words, ns = append(words, w), append(ns, counts[w])
			}
		}
		add(map[string]any{"arrow_batch": map[string]any{"row_count": len(words), "data": countsIPC(words, ns)}})
	case "total":
		if !uploaded {
			return Status(codes.Internal, "CACHE_NOT_FOUND", "sparkfake: the total's dataset is no uploaded artifact")
		}
		var n int64
		for _, st := range sentences {
			n += int64(len(st))
		}
		add(map[string]any{"arrow_batch": map[string]any{"row_count": 1, "data": totalIPC(n)}})
	default:
		return status.Errorf(codes.Unimplemented, "sparkfake: a plan it does not know: %v", plan)
	}
	add(map[string]any{"result_complete": map[string]any{}})
	return nil
}

// progress is op's i-th execution_progress answer of n: one stage, i+1
// of n tasks done.
func (s *Server) progress(op *operation, i, n int) proto.Message {
	return message("ExecutePlanResponse", map[string]any{
		"session_id": op.session, "server_side_session_id": ServerSession(op.session), "operation_id": op.id,
		"response_id": fmt.Sprintf("%s/%d", op.id, i),
		"execution_progress": map[string]any{"num_inflight_tasks": n - i - 1, "stages": []any{map[string]any{
			"stage_id": 0, "num_tasks": n, "num_completed_tasks": i + 1, "input_bytes_read": 100 * (i + 1), "done": i == n-1,
		}}},
	})
}

// send streams op's answers from the index from on, as far as
// Options.EndStreamAfter lets it, blocking or failing where op does.
func (s *Server) send(stream grpc.ServerStream, op *operation, from int) error {
	for i, sent := from, 0; ; i, sent = i+1, sent+1 {
		if i == op.hold {
			if op.err != nil {
				return op.err
			}
			select {
			case s.blocked <- op.id:
			default:
			}
			select {
			case <-op.stop:
				return Status(codes.Internal, "OPERATION_CANCELED", "[OPERATION_CANCELED] Operation "+op.id+" has been cancelled.")
			case <-stream.Context().Done():
				return stream.Context().Err()
			}
		}
		if i >= len(op.answers) || s.opts.EndStreamAfter > 0 && sent == s.opts.EndStreamAfter {
			return nil
		}
		if err := stream.SendMsg(op.answers[i]); err != nil {
			return err
		}
	}
}

func (s *Server) reattach(stream grpc.ServerStream, r Request) error {
	s.mu.Lock()
	op := s.ops[r.Operation]
	s.mu.Unlock()
	if op == nil {
		return Status(codes.Internal, "INVALID_HANDLE.OPERATION_NOT_FOUND", "[INVALID_HANDLE.OPERATION_NOT_FOUND] no operation "+r.Operation)
	}
	from := 0
	if r.LastResponseID != "" {
		i := slices.IndexFunc(op.answers, func(m proto.Message) bool { return str(m.ProtoReflect(), "response_id") == r.LastResponseID })
		if i < 0 {
			return Status(codes.Internal, "INVALID_CURSOR.POSITION_NOT_AVAILABLE", "[INVALID_CURSOR.POSITION_NOT_AVAILABLE] no answer "+r.LastResponseID)
		}
		from = i + 1
	}
	return s.send(stream, op, from)
}

// addArtifacts reassembles the stream's artifacts (a batch of single
// chunks, or begin_chunk and chunks), checks their CRCs and names and
// keeps the sentences of each (a LocalRelation of Arrow rows).
func (s *Server) addArtifacts(stream grpc.ServerStream) error {
	r := Request{Method: "AddArtifacts"}
	r.Metadata, _ = metadata.FromIncomingContext(stream.Context())
	type artifact struct {
		name         string
		data         []byte
		total, count int64 // of a chunked one
		chunks       int64
		ok           bool
	}
	var done []*artifact
	var cur *artifact
	crcOK := func(chunk protoreflect.Message) bool {
		return int64(crc32.ChecksumIEEE(get(chunk, "data").Bytes())) == get(chunk, "crc").Int()
	}
	mt, _ := protoregistry.GlobalTypes.FindMessageByName("spark.connect.AddArtifactsRequest")
	for {
		req := mt.New()
		err := stream.RecvMsg(req.Interface())
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		r.Chunks++
		r.Session, r.Observed = str(req, "session_id"), str(req, "client_observed_server_side_session_id")
		switch {
		case has(req, "batch"):
			l := get(req, "batch", "artifacts").List()
			for i := 0; i < l.Len(); i++ {
				a := l.Get(i).Message()
				done = append(done, &artifact{name: str(a, "name"), data: get(a, "data", "data").Bytes(), ok: crcOK(get(a, "data").Message())})
			}
		case has(req, "begin_chunk"):
			b := get(req, "begin_chunk").Message()
			first := get(b, "initial_chunk").Message()
			cur = &artifact{name: str(b, "name"), total: get(b, "total_bytes").Int(), chunks: get(b, "num_chunks").Int(),
				data: slices.Clone(get(first, "data").Bytes()), count: 1, ok: crcOK(first)}
		case has(req, "chunk") && cur != nil:
			c := get(req, "chunk").Message()
			cur.data = append(cur.data, get(c, "data").Bytes()...)
			cur.ok = cur.ok && crcOK(c)
			cur.count++
		default:
			return status.Error(codes.InvalidArgument, "sparkfake: a chunk without begin_chunk, or an empty request")
		}
		if cur != nil && cur.count == cur.chunks {
			if int64(len(cur.data)) != cur.total {
				return status.Errorf(codes.InvalidArgument, "sparkfake: %s has %d bytes, not total_bytes %d", cur.name, len(cur.data), cur.total)
			}
			done, cur = append(done, cur), nil
		}
	}
	s.record(r)
	if err := s.opts.Fail["AddArtifacts"]; err != nil {
		return err
	}
	if cur != nil {
		return status.Errorf(codes.InvalidArgument, "sparkfake: %s ended after %d of %d chunks", cur.name, cur.count, cur.chunks)
	}
	var summaries []any
	for _, a := range done {
		sum := sha256.Sum256(a.data)
		if a.name != "cache/"+hex.EncodeToString(sum[:]) {
			return status.Errorf(codes.InvalidArgument, "sparkfake: artifact %s is not cache/ and the SHA-256 of its bytes", a.name)
		}
		if a.ok {
			sentences, err := decodeRows(a.data)
			if err != nil {
				return status.Errorf(codes.InvalidArgument, "sparkfake: artifact %s: %v", a.name, err)
			}
			s.mu.Lock()
			s.artifacts[strings.TrimPrefix(a.name, "cache/")], s.uploaded = sentences, sentences
			s.mu.Unlock()
		}
		summaries = append(summaries, map[string]any{"name": a.name, "is_crc_successful": a.ok})
	}
	return stream.SendMsg(message("AddArtifactsResponse", map[string]any{
		"session_id": r.Session, "server_side_session_id": ServerSession(r.Session), "artifacts": summaries,
	}))
}

// decodeRows reads a LocalRelation whose data is an Arrow IPC stream of
// one column, tokens list<string>.
func decodeRows(blob []byte) ([][]string, error) {
	mt, _ := protoregistry.GlobalTypes.FindMessageByName("spark.connect.LocalRelation")
	lr := mt.New()
	if err := proto.Unmarshal(blob, lr.Interface()); err != nil {
		return nil, err
	}
	rd, err := ipc.NewReader(bytes.NewReader(get(lr, "data").Bytes()))
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	var out [][]string
	for rd.Next() {
		rec := rd.Record()
		if rec.NumCols() != 1 || rec.Schema().Field(0).Name != "tokens" {
			return nil, fmt.Errorf("rows of %s, not tokens", rec.Schema())
		}
		l, ok := rec.Column(0).(*array.List)
		words, ok2 := l.ListValues().(*array.String)
		if !ok || !ok2 {
			return nil, fmt.Errorf("tokens of %s, not list<string>", rec.Schema())
		}
		for i := 0; i < l.Len(); i++ {
			b, e := l.ValueOffsets(i)
			st := []string{}
			for j := b; j < e; j++ {
				st = append(st, words.Value(int(j)))
			}
			out = append(out, st)
		}
	}
	return out, rd.Err()
}

func countWords(sentences [][]string) map[string]int64 {
	n := map[string]int64{}
	for _, st := range sentences {
		for _, w := range st {
			n[w]++
		}
	}
	return n
}

// vectorsIPC is an Arrow IPC stream of one batch (word utf8, vector
// list<float32>), as getVectors through vector_to_array gives.
func vectorsIPC(words []string, dim int) []byte {
	schema := arrow.NewSchema([]arrow.Field{{Name: "word", Type: arrow.BinaryTypes.String}, {Name: "vector", Type: arrow.ListOf(arrow.PrimitiveTypes.Float32)}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	lb := b.Field(1).(*array.ListBuilder)
	for _, w := range words {
		b.Field(0).(*array.StringBuilder).Append(w)
		lb.Append(true)
		lb.ValueBuilder().(*array.Float32Builder).AppendValues(Vector(w, dim), nil)
	}
	return ipcStream(b)
}

// countsIPC is an Arrow IPC stream of (word utf8, n int64).
func countsIPC(words []string, ns []int64) []byte {
	schema := arrow.NewSchema([]arrow.Field{{Name: "word", Type: arrow.BinaryTypes.String}, {Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(words, nil)
	b.Field(1).(*array.Int64Builder).AppendValues(ns, nil)
	return ipcStream(b)
}

// totalIPC is an Arrow IPC stream of one row (n int64).
func totalIPC(n int64) []byte {
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil))
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(n)
	return ipcStream(b)
}

func ipcStream(b *array.RecordBuilder) []byte {
	rec := b.NewRecord()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// kindOf recognises the plans internal/trainer/spark sends.
func kindOf(plan map[string]any) string {
	switch {
	case dig(plan, "command", "ml_command", "fit") != nil:
		return "fit"
	case dig(plan, "command", "ml_command", "delete") != nil:
		return "delete"
	case find(plan, "ml_relation") != nil:
		return "vectors"
	case dig(plan, "root", "filter") != nil && strings.Contains(fmt.Sprint(plan), "explode(tokens)"):
		return "counts"
	case dig(plan, "root", "aggregate") != nil && dig(plan, "root", "aggregate", "grouping_expressions") == nil:
		return "total"
	}
	return "unknown"
}

// Messages: built from JSON-like maps, read through protoreflect.

// message is the registry's spark.connect.NAME filled from fields (proto
// field names; []byte as base64, as encoding/json writes it).
func message(name string, fields map[string]any) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName("spark.connect." + name))
	if err != nil {
		panic(err)
	}
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	m := mt.New().Interface()
	if err := protojson.Unmarshal(b, m); err != nil {
		panic(fmt.Sprintf("sparkfake: %s from %s: %v", name, b, err))
	}
	return m
}

// toMap is m as JSON-like maps, with the .proto field names.
func toMap(m proto.Message) map[string]any {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		panic(err)
	}
	out := map[string]any{}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // integers as written
	if err := d.Decode(&out); err != nil {
		panic(err)
	}
	return out
}

// dig is the value at path in m, nil when absent.
func dig(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// find is the first object under key anywhere in v, nil when none.
func find(v any, key string) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		if m, ok := x[key].(map[string]any); ok {
			return m
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if m := find(x[k], key); m != nil {
				return m
			}
		}
	case []any:
		for _, e := range x {
			if m := find(e, key); m != nil {
				return m
			}
		}
	}
	return nil
}

// get is the field at path of m (a default value when unset).
func get(m protoreflect.Message, path ...string) protoreflect.Value {
	var v protoreflect.Value
	for i, p := range path {
		if i > 0 {
			m = v.Message()
		}
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(p))
		if fd == nil {
			panic(fmt.Sprintf("sparkfake: %s has no field %s", m.Descriptor().FullName(), p))
		}
		v = m.Get(fd)
	}
	return v
}

func str(m protoreflect.Message, path ...string) string { return get(m, path...).String() }

// has reports whether the message field name of m is set.
func has(m protoreflect.Message, name string) bool {
	return m.Has(m.Descriptor().Fields().ByName(protoreflect.Name(name)))
}
