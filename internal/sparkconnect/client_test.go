package sparkconnect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/uuid"
	"github.com/ophicleide/ophicleide/internal/sparkconnect/sparkfake"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want Endpoint
	}{
		{"sc://h:1234", Endpoint{Host: "h", Port: 1234, User: "ophicleide", Headers: map[string]string{}}},
		{"sc://spark.example", Endpoint{Host: "spark.example", Port: 15002, User: "ophicleide", Headers: map[string]string{}}},
		{"sc://h:1234/;token=x;use_ssl=true", Endpoint{Host: "h", Port: 1234, Token: "x", TLS: true, User: "ophicleide", Headers: map[string]string{}}},
		{"sc://h/;token=x", Endpoint{Host: "h", Port: 15002, Token: "x", TLS: true, User: "ophicleide", Headers: map[string]string{}}},
		{"sc://h/;use_ssl=true", Endpoint{Host: "h", Port: 15002, TLS: true, User: "ophicleide", Headers: map[string]string{}}},
		{"sc://h/;use_ssl=false", Endpoint{Host: "h", Port: 15002, User: "ophicleide", Headers: map[string]string{}}},
		{"sc://h/;user_id=alice", Endpoint{Host: "h", Port: 15002, User: "alice", Headers: map[string]string{}}},
		{"sc://h:1/;x-tenant=t1;spark.conf=v", Endpoint{Host: "h", Port: 1, User: "ophicleide", Headers: map[string]string{"x-tenant": "t1", "spark.conf": "v"}}},
		{"sc://h/;session_id=" + uuid.NewString() + ";user_agent=me", Endpoint{Host: "h", Port: 15002, User: "ophicleide", Headers: map[string]string{}}},
		{"sc://[::1]:15003", Endpoint{Host: "::1", Port: 15003, User: "ophicleide", Headers: map[string]string{}}},
	} {
		got, err := ParseURL(c.raw)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.raw, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseURL(%q) = %+v, want %+v", c.raw, got, c.want)
		}
	}
	for _, raw := range []string{
		"http://h:1234", "h:1234", "sc://", "sc://:1234", "sc://h:abc", "sc://h:0", "sc://h:70000", "sc://h/path", "sc://h:1234;token=x",
	} {
		if e, err := ParseURL(raw); err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error", raw, e)
		} else if !strings.Contains(err.Error(), "spark connect URL") {
			t.Errorf("ParseURL(%q): %v, want it to name the spark connect URL", raw, err)
		}
	}
	e, _ := ParseURL("sc://h:1234/;token=secret")
	if e.Addr() != "h:1234" || e.String() != "sc://h:1234" {
		t.Errorf("Addr %q, String %q", e.Addr(), e.String())
	}
	if e, _ := ParseURL("sc://[::1]:15003"); e.Addr() != "[::1]:15003" {
		t.Errorf("Addr %q", e.Addr())
	}
}

// read is get for a test: the field must be set.
func read(t *testing.T, m proto.Message, path ...string) protoreflect.Value {
	t.Helper()
	v, ok := get(m, path...)
	if !ok {
		t.Fatalf("%s: %s is not set", m.ProtoReflect().Descriptor().FullName(), strings.Join(path, "."))
	}
	return v
}

func readString(t *testing.T, m proto.Message, path ...string) string {
	t.Helper()
	return read(t, m, path...).String()
}

func list(t *testing.T, m proto.Message, path ...string) []protoreflect.Value {
	t.Helper()
	l := read(t, m, path...).List()
	var out []protoreflect.Value
	for i := 0; i < l.Len(); i++ {
		out = append(out, l.Get(i))
	}
	return out
}

func asMessage(v protoreflect.Value) proto.Message { return v.Message().Interface() }

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestRequests(t *testing.T) {
	s := &session{id: "sess", user: "u"}
	base := func(m proto.Message, observed string) {
		t.Helper()
		if readString(t, m, "session_id") != "sess" || readString(t, m, "user_context", "user_id") != "u" || readString(t, m, "client_type") != clientType {
			t.Errorf("%s: session, user or client type wrong", m.ProtoReflect().Descriptor().Name())
		}
		if got := getString(m, "client_observed_server_side_session_id"); got != observed {
			t.Errorf("%s: observed server session %q, want %q", m.ProtoReflect().Descriptor().Name(), got, observed)
		}
	}

	m := s.versionRequest()
	base(m, "")
	if !has(m, "spark_version") {
		t.Error("versionRequest asks no spark_version")
	}
	s.server = "srv"

	m = s.executeRequest("op1", []string{"t1", "t2"}, rootPlan(CachedRelation("abc").o))
	base(m, "srv")
	if readString(t, m, "operation_id") != "op1" || readString(t, m, "plan", "root", "cached_local_relation", "hash") != "abc" {
		t.Error("executeRequest: operation or plan wrong")
	}
	if tags := list(t, m, "tags"); len(tags) != 2 || tags[0].String() != "t1" || tags[1].String() != "t2" {
		t.Errorf("executeRequest tags %v", tags)
	}
	opts := list(t, m, "request_options")
	if len(opts) != 1 || !read(t, asMessage(opts[0]), "reattach_options", "reattachable").Bool() {
		t.Error("executeRequest is not reattachable")
	}
	if m := s.executeRequest("op2", nil, deletePlan("r")); has(m, "tags") && len(list(t, m, "tags")) != 0 {
		t.Error("executeRequest without tags has tags")
	}

	m = s.reattachRequest("op1", "resp9")
	base(m, "srv")
	if readString(t, m, "operation_id") != "op1" || readString(t, m, "last_response_id") != "resp9" {
		t.Error("reattachRequest wrong")
	}
	if m := s.reattachRequest("op1", ""); has(m, "last_response_id") {
		t.Error("reattachRequest from the start has a last_response_id")
	}

	m = s.releaseExecuteRequest("op1")
	base(m, "srv")
	if readString(t, m, "operation_id") != "op1" || !has(m, "release_all") {
		t.Error("releaseExecuteRequest wrong")
	}

	enum := func(m proto.Message, field string) string {
		fd := m.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(field))
		return string(fd.Enum().Values().ByNumber(read(t, m, field).Enum()).Name())
	}
	m = s.interruptTagRequest("tag1")
	base(m, "srv")
	if enum(m, "interrupt_type") != "INTERRUPT_TYPE_TAG" || readString(t, m, "operation_tag") != "tag1" {
		t.Error("interruptTagRequest wrong")
	}
	m = s.interruptAllRequest()
	base(m, "srv")
	if enum(m, "interrupt_type") != "INTERRUPT_TYPE_ALL" {
		t.Error("interruptAllRequest wrong")
	}

	// ReleaseSession has no client_observed_server_side_session_id.
	m = s.releaseSessionRequest()
	if readString(t, m, "session_id") != "sess" || readString(t, m, "user_context", "user_id") != "u" {
		t.Error("releaseSessionRequest wrong")
	}

	crc := []byte{0xde, 0xad, 0xbe, 0xef}
	if crcValue(crc) != 0xdeadbeef {
		t.Errorf("crcValue = %x", crcValue(crc))
	}
	m = s.artifactSingle("cache/h", []byte("data"), crc)
	base(m, "srv")
	arts := list(t, m, "batch", "artifacts")
	if len(arts) != 1 {
		t.Fatalf("artifactSingle: %d artifacts", len(arts))
	}
	a := asMessage(arts[0])
	if readString(t, a, "name") != "cache/h" || string(read(t, a, "data", "data").Bytes()) != "data" || read(t, a, "data", "crc").Int() != 0xdeadbeef {
		t.Error("artifactSingle wrong")
	}
	m = s.artifactBegin("cache/h", 10, 3, []byte("abc"), crc)
	base(m, "srv")
	if readString(t, m, "begin_chunk", "name") != "cache/h" || read(t, m, "begin_chunk", "total_bytes").Int() != 10 ||
		read(t, m, "begin_chunk", "num_chunks").Int() != 3 || string(read(t, m, "begin_chunk", "initial_chunk", "data").Bytes()) != "abc" ||
		read(t, m, "begin_chunk", "initial_chunk", "crc").Int() != 0xdeadbeef {
		t.Error("artifactBegin wrong")
	}
	m = s.artifactChunk([]byte("def"), crc)
	base(m, "srv")
	if string(read(t, m, "chunk", "data").Bytes()) != "def" || read(t, m, "chunk", "crc").Int() != 0xdeadbeef {
		t.Error("artifactChunk wrong")
	}
}

func TestPlans(t *testing.T) {
	plan := func(o obj) proto.Message { return newMessage("Plan", o) }
	rel := func(r Relation) proto.Message { return newMessage("Relation", r.o) }

	m := plan(fitPlan("org.apache.spark.ml.feature.Word2Vec", map[string]any{
		"vectorSize": 100, "big": 1 << 40, "seed": int64(7), "stepSize": 0.5, "inputCol": "tokens", "flag": true,
	}, CachedRelation("h").o))
	if readString(t, m, "command", "ml_command", "fit", "estimator", "name") != "org.apache.spark.ml.feature.Word2Vec" {
		t.Error("fit estimator wrong")
	}
	est := asMessage(read(t, m, "command", "ml_command", "fit", "estimator"))
	tfd := est.ProtoReflect().Descriptor().Fields().ByName("type")
	if string(tfd.Enum().Values().ByNumber(read(t, est, "type").Enum()).Name()) != "OPERATOR_TYPE_ESTIMATOR" {
		t.Error("fit estimator type wrong")
	}
	if readString(t, m, "command", "ml_command", "fit", "dataset", "cached_local_relation", "hash") != "h" {
		t.Error("fit dataset wrong")
	}
	params := read(t, m, "command", "ml_command", "fit", "params", "params").Map()
	lit := func(name string) proto.Message {
		v := params.Get(protoreflect.ValueOfString(name).MapKey())
		if !v.IsValid() {
			t.Fatalf("no param %s", name)
		}
		return asMessage(v)
	}
	if params.Len() != 6 || read(t, lit("vectorSize"), "integer").Int() != 100 || read(t, lit("big"), "long").Int() != 1<<40 ||
		read(t, lit("seed"), "long").Int() != 7 || read(t, lit("stepSize"), "double").Float() != 0.5 ||
		readString(t, lit("inputCol"), "string") != "tokens" || !read(t, lit("flag"), "boolean").Bool() {
		t.Error("fit params wrong")
	}
	mustPanic(t, "literal(float32)", func() { literal(float32(1)) })

	m = plan(deletePlan("r1", "r2"))
	if refs := list(t, m, "command", "ml_command", "delete", "obj_refs"); len(refs) != 2 || readString(t, asMessage(refs[1]), "id") != "r2" {
		t.Error("delete refs wrong")
	}

	m = plan(rootPlan(TextFiles([]string{"s3a://b/x", "s3a://b/y"}).o))
	if readString(t, m, "root", "read", "data_source", "format") != "text" || len(list(t, m, "root", "read", "data_source", "paths")) != 2 {
		t.Error("TextFiles wrong")
	}

	r := CachedRelation("h").Select("explode(tokens) AS word").GroupBy("word", "count(1) AS n").Where("n >= 5")
	m = rel(r)
	if readString(t, m, "filter", "condition", "expression_string", "expression") != "n >= 5" {
		t.Error("Where wrong")
	}
	agg := asMessage(read(t, m, "filter", "input", "aggregate"))
	gfd := agg.ProtoReflect().Descriptor().Fields().ByName("group_type")
	if string(gfd.Enum().Values().ByNumber(read(t, agg, "group_type").Enum()).Name()) != "GROUP_TYPE_GROUPBY" {
		t.Error("GroupBy group type wrong")
	}
	if g := list(t, agg, "grouping_expressions"); len(g) != 1 || readString(t, asMessage(g[0]), "unresolved_attribute", "unparsed_identifier") != "word" {
		t.Error("GroupBy grouping wrong")
	}
	if a := list(t, agg, "aggregate_expressions"); len(a) != 1 || readString(t, asMessage(a[0]), "expression_string", "expression") != "count(1) AS n" {
		t.Error("GroupBy aggregates wrong")
	}
	if p := list(t, agg, "input", "project", "expressions"); len(p) != 1 || readString(t, asMessage(p[0]), "expression_string", "expression") != "explode(tokens) AS word" ||
		readString(t, agg, "input", "project", "input", "cached_local_relation", "hash") != "h" {
		t.Error("Select wrong")
	}
	if m := rel(CachedRelation("h").GroupBy("", "sum(1) AS n")); has(m, "aggregate", "grouping_expressions") && len(list(t, m, "aggregate", "grouping_expressions")) != 0 {
		t.Error("GroupBy(\"\") groups")
	}

	m = rel(CachedRelation("a").UnionAll(CachedRelation("b")))
	sfd := asMessage(read(t, m, "set_op")).ProtoReflect().Descriptor().Fields().ByName("set_op_type")
	if readString(t, m, "set_op", "left_input", "cached_local_relation", "hash") != "a" || readString(t, m, "set_op", "right_input", "cached_local_relation", "hash") != "b" ||
		!read(t, m, "set_op", "is_all").Bool() || string(sfd.Enum().Values().ByNumber(read(t, m, "set_op", "set_op_type").Enum()).Name()) != "SET_OP_TYPE_UNION" {
		t.Error("UnionAll wrong")
	}

	m = rel(Vectors("model-1"))
	if readString(t, m, "project", "input", "ml_relation", "fetch", "obj_ref", "id") != "model-1" {
		t.Error("Vectors model wrong")
	}
	if ms := list(t, m, "project", "input", "ml_relation", "fetch", "methods"); len(ms) != 1 || readString(t, asMessage(ms[0]), "method") != "getVectors" {
		t.Error("Vectors method wrong")
	}
	es := list(t, m, "project", "expressions")
	if len(es) != 2 || readString(t, asMessage(es[0]), "unresolved_attribute", "unparsed_identifier") != "word" {
		t.Fatal("Vectors expressions wrong")
	}
	alias := asMessage(es[1])
	args := list(t, alias, "alias", "expr", "unresolved_function", "arguments")
	if readString(t, alias, "alias", "expr", "unresolved_function", "function_name") != "vector_to_array" || len(args) != 2 ||
		readString(t, asMessage(args[0]), "unresolved_attribute", "unparsed_identifier") != "vector" || readString(t, asMessage(args[1]), "literal", "string") != "float32" {
		t.Error("vector_to_array wrong")
	}
	if n := list(t, alias, "alias", "name"); len(n) != 1 || n[0].String() != "vector" {
		t.Error("vector alias wrong")
	}
}

func TestMessagePanics(t *testing.T) {
	mustPanic(t, "a message that does not exist", func() { newMessage("NoSuchMessage", nil) })
	mustPanic(t, "a field that does not exist", func() { newMessage("Plan", obj{"no_such_field": 1}) })
	mustPanic(t, "a string for a message", func() { newMessage("Plan", obj{"root": "x"}) })
	mustPanic(t, "an int for a repeated field", func() { newMessage("ExecutePlanRequest", obj{"tags": 1}) })
	mustPanic(t, "an enum value that does not exist", func() { newMessage("InterruptRequest", obj{"interrupt_type": "NOPE"}) })
	mustPanic(t, "a float for an integer", func() { newMessage("Expression.Literal", obj{"integer": 1.5}) })
	mustPanic(t, "get of a field that does not exist", func() { get(newAnswer("ExecutePlanResponse"), "nope") })
}

func TestLocalRelationPrefix(t *testing.T) {
	for _, n := range []int{0, 5, 300, 1 << 21} {
		data := bytes.Repeat([]byte{'x'}, n)
		m := newAnswer("LocalRelation")
		if err := proto.Unmarshal(append(localRelationPrefix(int64(n)), data...), m); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if v, _ := get(m, "data"); !bytes.Equal(v.Bytes(), data) {
			t.Errorf("%d bytes: the data read back differs", n)
		}
	}
}

func TestAnswers(t *testing.T) {
	resp := newMessage("ExecutePlanResponse", obj{"execution_progress": obj{"stages": []obj{
		{"stage_id": int64(3), "num_tasks": int64(8), "num_completed_tasks": int64(2)},
		{"stage_id": int64(4), "num_tasks": int64(1), "num_completed_tasks": int64(1), "done": true},
	}}})
	st, ok := progressOf(resp)
	if !ok || !reflect.DeepEqual(st, []stageInfo{{3, 8, 2, false}, {4, 1, 1, true}}) {
		t.Errorf("progressOf = %v, %v", st, ok)
	}
	if _, ok := progressOf(newAnswer("ExecutePlanResponse")); ok {
		t.Error("progressOf of no progress")
	}

	resp = newMessage("ExecutePlanResponse", obj{"arrow_batch": obj{"row_count": int64(1), "data": []byte("ipc")}})
	if d, ok := arrowBatchOf(resp); !ok || string(d) != "ipc" {
		t.Errorf("arrowBatchOf = %q, %v", d, ok)
	}
	if _, ok := arrowBatchOf(newAnswer("ExecutePlanResponse")); ok {
		t.Error("arrowBatchOf of no batch")
	}

	resp = newMessage("ExecutePlanResponse", obj{"ml_command_result": obj{"operator_info": obj{"obj_ref": obj{"id": "m1"}, "warning_message": "careful"}}})
	if ref, ok := modelRefOf(resp); !ok || ref != "m1" || warningOf(resp) != "careful" {
		t.Errorf("modelRefOf = %q, %v; warning %q", ref, ok, warningOf(resp))
	}
	if _, ok := modelRefOf(newAnswer("ExecutePlanResponse")); ok || warningOf(newAnswer("ExecutePlanResponse")) != "" {
		t.Error("modelRefOf of no result")
	}

	summary := func(oks ...bool) proto.Message {
		var as []obj
		for i, ok := range oks {
			as = append(as, obj{"name": fmt.Sprint(i), "is_crc_successful": ok})
		}
		if as == nil {
			return newAnswer("AddArtifactsResponse")
		}
		return newMessage("AddArtifactsResponse", obj{"artifacts": as})
	}
	if !artifactsAccepted(summary(true)) || !artifactsAccepted(summary(true, true)) || artifactsAccepted(summary(true, false)) || artifactsAccepted(summary()) {
		t.Error("artifactsAccepted wrong")
	}
}

// fakeSession dials the fake and returns a new session on it.
func fakeSession(t *testing.T, f *sparkfake.Server) *Session {
	t.Helper()
	ep, err := ParseURL(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(ep, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.Session(uuid.NewString())
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// upload writes sentences as a RowsFile and uploads it.
func upload(t *testing.T, ctx context.Context, s *Session, sentences [][]string) Relation {
	t.Helper()
	rf, err := NewRowsFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	for _, st := range sentences {
		var b [][]byte
		for _, w := range st {
			b = append(b, []byte(w))
		}
		if err := rf.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	r, size, err := rf.Finish()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := s.UploadRows(ctx, r, size)
	if err != nil {
		t.Fatalf("UploadRows: %v", err)
	}
	return rel
}

func requestsOf(f *sparkfake.Server, method string) []sparkfake.Request {
	var out []sparkfake.Request
	for _, r := range f.Requests() {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func TestVersion(t *testing.T) {
	f := sparkfake.Start(t, sparkfake.Options{Version: "4.1.0"})
	ep, _ := ParseURL(f.URL + "/;x-tenant=t1;user_id=alice")
	c, err := Dial(ep, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.Session(uuid.NewString())
	ctx := testContext(t)
	v, err := s.Version(ctx)
	if err != nil || v != "4.1.0" {
		t.Fatalf("Version = %q, %v", v, err)
	}
	// The server's session id comes back on the requests after it.
	if _, err := s.Version(ctx); err != nil {
		t.Fatal(err)
	}
	rs := requestsOf(f, "AnalyzePlan")
	if len(rs) != 2 || rs[0].Session != s.ID() || rs[0].Observed != "" || rs[1].Observed != sparkfake.ServerSession(s.ID()) {
		t.Errorf("AnalyzePlan requests %+v", rs)
	}
	if got := rs[0].Metadata.Get("x-tenant"); len(got) != 1 || got[0] != "t1" {
		t.Errorf("the URL's parameter x-tenant came as metadata %v", rs[0].Metadata)
	}
}

func TestUploadRows(t *testing.T) {
	for _, c := range []struct {
		name      string
		sentences [][]string
		multi     bool
	}{
		{"small", [][]string{{"the", "cat", "sat"}, {"ünïcode", "wörds"}, {}, {"a"}}, false},
		{"chunked", manySentences(30000, 10), true}, // ~3 MB: begin_chunk and chunks, two Arrow records
	} {
		t.Run(c.name, func(t *testing.T) {
			f := sparkfake.Start(t, sparkfake.Options{})
			s := fakeSession(t, f)
			ctx := testContext(t)
			rel := upload(t, ctx, s, c.sentences)
			if !reflect.DeepEqual(f.Uploaded(), c.sentences) {
				t.Errorf("the fake decoded %d sentences, not the %d uploaded (or other ones)", len(f.Uploaded()), len(c.sentences))
			}
			rs := requestsOf(f, "AddArtifacts")
			if len(rs) != 1 || rs[0].Session != s.ID() || (rs[0].Chunks > 1) != c.multi {
				t.Errorf("AddArtifacts requests %+v, want multi-chunk %v", rs, c.multi)
			}
			hash, _ := rel.o["cached_local_relation"].(obj)["hash"].(string)
			if len(hash) != 64 {
				t.Errorf("the relation's hash %q is not a SHA-256", hash)
			}
			// The uploaded rows answer queries through the returned relation.
			var total int64
			err := s.Rows(ctx, rel.GroupBy("", "CAST(coalesce(sum(size(tokens)), 0) AS BIGINT) AS n"), nil, func(rec arrow.Record) error {
				total = rec.Column(0).(*array.Int64).Value(0)
				return nil
			})
			var want int64
			for _, st := range c.sentences {
				want += int64(len(st))
			}
			if err != nil || total != want {
				t.Errorf("total = %d, %v; want %d", total, err, want)
			}
		})
	}
}

func manySentences(n, words int) [][]string {
	out := make([][]string, n)
	for i := range out {
		for j := 0; j < words; j++ {
			out[i] = append(out[i], fmt.Sprintf("w%d", (i*words+j)%5000))
		}
	}
	return out
}

func TestReattach(t *testing.T) {
	f := sparkfake.Start(t, sparkfake.Options{EndStreamAfter: 1, Progress: 3, Warning: "numPartitions is large"})
	s := fakeSession(t, f)
	ctx := testContext(t)
	rel := upload(t, ctx, s, [][]string{{"a", "b", "a"}})
	var stages [][]Stage
	ref, warning, err := s.Fit(ctx, "org.apache.spark.ml.feature.Word2Vec", map[string]any{"vectorSize": 3, "minCount": 1}, rel, func(st []Stage) { stages = append(stages, st) })
	if err != nil || ref == "" || warning != "numPartitions is large" {
		t.Fatalf("Fit = %q, %q, %v", ref, warning, err)
	}
	if len(stages) != 3 || !reflect.DeepEqual(stages[2], []Stage{{ID: 0, Tasks: 3, Done: 3, Finished: true}}) {
		t.Errorf("progress %v", stages)
	}
	ex := requestsOf(f, "ExecutePlan")
	if len(ex) != 1 || ex[0].Kind != "fit" || ex[0].Params["vectorSize"] != "3" {
		t.Fatalf("ExecutePlan requests %+v", ex)
	}
	op := ex[0].Operation
	// Five answers (three progress, the result, result_complete), one a
	// stream: four reattaches, each from the answer before.
	re := requestsOf(f, "ReattachExecute")
	if len(re) != 4 {
		t.Fatalf("%d reattaches, want 4: %+v", len(re), re)
	}
	for i, r := range re {
		if r.Operation != op || r.LastResponseID != fmt.Sprintf("%s/%d", op, i) || r.Session != s.ID() {
			t.Errorf("reattach %d: %+v, want operation %s from %s/%d", i, r, op, op, i)
		}
	}
	if rel := requestsOf(f, "ReleaseExecute"); len(rel) != 1 || rel[0].Operation != op {
		t.Errorf("ReleaseExecute requests %+v", rel)
	}
	if err := s.Delete(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if ex := requestsOf(f, "ExecutePlan"); ex[len(ex)-1].Kind != "delete" {
		t.Errorf("Delete sent %+v", ex[len(ex)-1])
	}
}

func TestRows(t *testing.T) {
	f := sparkfake.Start(t, sparkfake.Options{BatchRows: 2, EndStreamAfter: 2})
	s := fakeSession(t, f)
	ctx := testContext(t)
	rel := upload(t, ctx, s, [][]string{{"a", "b", "c", "a"}, {"d", "e", "b", "a"}})
	ref, _, err := s.Fit(ctx, "org.apache.spark.ml.feature.Word2Vec", map[string]any{"vectorSize": 4, "minCount": 1}, rel, nil)
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	records := 0
	err = s.Rows(ctx, Vectors(ref), nil, func(rec arrow.Record) error {
		records++
		w := rec.Column(0).(*array.String)
		l := rec.Column(1).(*array.List)
		vals := l.ListValues().(*array.Float32)
		for i := 0; i < w.Len(); i++ {
			b, e := l.ValueOffsets(i)
			if got, want := vals.Float32Values()[b:e], sparkfake.Vector(w.Value(i), 4); !reflect.DeepEqual(got, want) {
				t.Errorf("vector of %s = %v, want %v", w.Value(i), got, want)
			}
			words = append(words, w.Value(i))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(words, []string{"a", "b", "c", "d", "e"}) || records != 3 {
		t.Errorf("vectors of %v in %d records, want a..e in 3", words, records)
	}
	if len(requestsOf(f, "ReattachExecute")) == 0 {
		t.Error("no reattach")
	}

	counts := map[string]int64{}
	err = s.Rows(ctx, rel.Select("explode(tokens) AS word").GroupBy("word", "count(1) AS n").Where("n >= 2"), nil, func(rec arrow.Record) error {
		w, n := rec.Column(0).(*array.String), rec.Column(1).(*array.Int64)
		for i := 0; i < w.Len(); i++ {
			counts[w.Value(i)] = n.Value(i)
		}
		return nil
	})
	if err != nil || !reflect.DeepEqual(counts, map[string]int64{"a": 3, "b": 2}) {
		t.Errorf("counts = %v, %v", counts, err)
	}

	// fn's error ends Rows.
	stop := errors.New("stop")
	if err := s.Rows(ctx, Vectors(ref), nil, func(arrow.Record) error { return stop }); err != stop {
		t.Errorf("Rows = %v, want fn's error", err)
	}
}

func TestInterruptOnCancel(t *testing.T) {
	f := sparkfake.Start(t, sparkfake.Options{BlockFit: true, Progress: 1})
	s := fakeSession(t, f)
	rel := upload(t, testContext(t), s, [][]string{{"a", "b"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Fit(ctx, "org.apache.spark.ml.feature.Word2Vec", map[string]any{"minCount": 1}, rel, nil)
		done <- err
	}()
	select {
	case <-f.Blocked():
	case err := <-done:
		t.Fatalf("Fit ended before blocking: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the fit never blocked")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Fit = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Fit did not return after its context was cancelled")
	}
	tag := "ophicleide-" + s.ID()
	if ex := requestsOf(f, "ExecutePlan"); len(ex) != 1 || !reflect.DeepEqual(ex[0].Tags, []string{tag}) {
		t.Errorf("ExecutePlan requests %+v, want the tag %s", ex, tag)
	}
	in := requestsOf(f, "Interrupt")
	if len(in) != 1 || in[0].Session != s.ID() || in[0].InterruptType != "INTERRUPT_TYPE_TAG" || in[0].OperationTag != tag {
		t.Errorf("Interrupt requests %+v, want one by the tag %s", in, tag)
	}
	// Close releases the session.
	if err := s.Close(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if rs := requestsOf(f, "ReleaseSession"); len(rs) != 1 || rs[0].Session != s.ID() {
		t.Errorf("ReleaseSession requests %+v", rs)
	}
}

func TestErrors(t *testing.T) {
	ctx := testContext(t)
	for _, c := range []struct {
		name         string
		err          error
		class, error string
	}{
		{"ErrorInfo", sparkfake.Status(codes.Internal, "UNSUPPORTED_FEATURE", "boom"), "UNSUPPORTED_FEATURE", "spark: [UNSUPPORTED_FEATURE] boom"},
		{"ErrorInfo and prefix", sparkfake.Status(codes.Internal, "PATH_NOT_FOUND", "[PATH_NOT_FOUND] Path does not exist: file:/x. SQLSTATE: 42K03"),
			"PATH_NOT_FOUND", "spark: [PATH_NOT_FOUND] Path does not exist: file:/x. SQLSTATE: 42K03"},
		{"prefix", sparkfake.Status(codes.Internal, "", "[PATH_NOT_FOUND] Path does not exist: file:/x"), "PATH_NOT_FOUND", "spark: [PATH_NOT_FOUND] Path does not exist: file:/x"},
		{"no class", sparkfake.Status(codes.Internal, "", "[not a class] java.lang.RuntimeException"), "", "spark: [not a class] java.lang.RuntimeException"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, kind := range []string{"AnalyzePlan", "fit"} {
				f := sparkfake.Start(t, sparkfake.Options{Fail: map[string]error{kind: c.err}})
				s := fakeSession(t, f)
				var err error
				if kind == "fit" {
					rel := upload(t, ctx, s, [][]string{{"a"}})
					_, _, err = s.Fit(ctx, "org.apache.spark.ml.feature.Word2Vec", nil, rel, nil)
				} else {
					_, err = s.Version(ctx)
				}
				var se *Error
				if !errors.As(err, &se) {
					t.Fatalf("%s: %v (%T), want an *Error", kind, err, err)
				}
				if se.Class != c.class || se.Code != codes.Internal || se.Unreachable() || se.Error() != c.error || se.Err == nil {
					t.Errorf("%s: %+v: %q, want class %q, %q", kind, se, se.Error(), c.class, c.error)
				}
				if len(requestsOf(f, "ReattachExecute")) != 0 {
					t.Errorf("%s: reattached after a failure", kind)
				}
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		ep, _ := ParseURL("sc://" + addr)
		c, err := Dial(ep, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s := c.Session(uuid.NewString())
		_, err = s.Version(ctx)
		var se *Error
		if !errors.As(err, &se) || !se.Unreachable() {
			t.Errorf("Version on a closed port = %v, want an unreachable *Error", err)
		}
		_, err = s.UploadRows(ctx, bytes.NewReader([]byte("rows")), 4)
		if !errors.As(err, &se) || !se.Unreachable() {
			t.Errorf("UploadRows on a closed port = %v, want an unreachable *Error", err)
		}
		_, _, err = s.Fit(ctx, "x", nil, CachedRelation("h"), nil)
		if !errors.As(err, &se) || !se.Unreachable() {
			t.Errorf("Fit on a closed port = %v, want an unreachable *Error", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		for _, c := range []struct {
			err  error
			fine bool
		}{
			{sparkfake.Status(codes.Internal, "INVALID_HANDLE.SESSION_NOT_FOUND", "[INVALID_HANDLE.SESSION_NOT_FOUND] no session"), true},
			{sparkfake.Status(codes.Internal, "", "[INVALID_HANDLE.SESSION_CLOSED] closed"), true},
			{sparkfake.Status(codes.NotFound, "", "gone"), true},
			{sparkfake.Status(codes.Internal, "", "boom"), false},
		} {
			f := sparkfake.Start(t, sparkfake.Options{Fail: map[string]error{"ReleaseSession": c.err}})
			if err := fakeSession(t, f).Close(ctx); (err == nil) != c.fine {
				t.Errorf("Close when the server answers %v: %v", c.err, err)
			}
		}
	})

	t.Run("refused upload", func(t *testing.T) {
		f := sparkfake.Start(t, sparkfake.Options{})
		s := fakeSession(t, f)
		// A size that is not the reader's: the rows cannot be read.
		if _, err := s.UploadRows(ctx, bytes.NewReader([]byte("rows")), 10); err == nil || !strings.Contains(err.Error(), "reading the rows") {
			t.Errorf("UploadRows of short rows = %v", err)
		}
		// Bytes that are no Arrow stream: the fake refuses them.
		if _, err := s.UploadRows(ctx, bytes.NewReader([]byte("rows")), 4); err == nil {
			t.Error("UploadRows of no Arrow stream succeeded")
		}
	})
}

// A Spark error that comes after the first answers (a fit failing
// mid-way; Spark sends INTERNAL for every error, with an ErrorInfo) ends
// the execution at once: it is not reattached, as neither pyspark's nor
// Spark's own clients do (they reattach INTERNAL only for
// INVALID_CURSOR.DISCONNECTED).
func TestSparkErrorAfterAnswersIsNotReattached(t *testing.T) {
	f := sparkfake.Start(t, sparkfake.Options{FailAfter: 2, Fail: map[string]error{
		"fit": sparkfake.Status(codes.Internal, "", "java.lang.OutOfMemoryError: Java heap space"),
	}})
	s := fakeSession(t, f)
	ctx := testContext(t)
	rel := upload(t, ctx, s, [][]string{{"a"}})
	start := time.Now()
	_, _, err := s.Fit(ctx, "org.apache.spark.ml.feature.Word2Vec", nil, rel, nil)
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(se.Message, "OutOfMemoryError") {
		t.Errorf("Fit = %v, want Spark's error", err)
	}
	if re := requestsOf(f, "ReattachExecute"); len(re) != 0 || time.Since(start) > time.Second {
		t.Errorf("%d reattaches in %s after Spark's error", len(re), time.Since(start))
	}
}

func TestBracketClass(t *testing.T) {
	for msg, want := range map[string]string{
		"[PATH_NOT_FOUND] x":                   "PATH_NOT_FOUND",
		"[INVALID_HANDLE.SESSION_NOT_FOUND] x": "INVALID_HANDLE.SESSION_NOT_FOUND",
		"[] x":                                 "",
		"[two words] x":                        "",
		"no class":                             "",
		" [PATH_NOT_FOUND] not at the start":   "",
		"[UNCLOSED":                            "",
		"[CLASS]":                              "CLASS",
		"Path does not exist: [PATH_NOT_FOUND] x": "",
		"[A]b": "A",
		"[PATH_NOT_FOUND]\nsecond line [X] third": "PATH_NOT_FOUND",
	} {
		if got := bracketClass(msg); got != want {
			t.Errorf("bracketClass(%q) = %q, want %q", msg, got, want)
		}
	}
}
