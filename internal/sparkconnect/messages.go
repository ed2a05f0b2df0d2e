package sparkconnect

// Every Spark Connect message this package sends is built in this file,
// and every field it reads of an answer is named here. The messages are
// the Go module's own generated types, found by their full names in the
// protobuf registry (importing github.com/apache/spark-connect-go/spark/client
// registers them; the types themselves are in its internal package) and
// filled through protoreflect from obj literals that mirror the .proto
// definitions (spark/connect/base.proto, commands.proto, ml.proto,
// relations.proto, expressions.proto of Spark 4.0). Switching to typed
// messages one day touches only this file.

import (
	"fmt"
	"math"

	_ "github.com/apache/spark-connect-go/spark/client" // registers spark.connect.*
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// obj is a message's fields by their .proto names: string, bool, int,
// int64, float64, []byte, an enum value's name (string), obj (a message),
// []obj and []string (repeated fields), map[string]obj (a map of
// messages).
type obj map[string]any

// clientType is sent as client_type: Spark logs it with each operation.
const clientType = "ophicleide"

// newMessage returns the message type spark.connect.NAME filled with
// fields. It panics on a name or field that does not exist: those are
// this file's mistakes, caught by its tests, never the caller's input.
func newMessage(name string, fields obj) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName("spark.connect." + name))
	if err != nil {
		panic(fmt.Sprintf("sparkconnect: no message spark.connect.%s: %v", name, err))
	}
	m := mt.New()
	fill(m, fields)
	return m.Interface()
}

func fill(m protoreflect.Message, fields obj) {
	d := m.Descriptor()
	for name, v := range fields {
		fd := d.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			panic(fmt.Sprintf("sparkconnect: %s has no field %s", d.FullName(), name))
		}
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for k, e := range v.(map[string]obj) {
				ev := mp.NewValue()
				fill(ev.Message(), e)
				mp.Set(protoreflect.ValueOfString(k).MapKey(), ev)
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			switch vs := v.(type) {
			case []obj:
				for _, e := range vs {
					ev := l.NewElement()
					fill(ev.Message(), e)
					l.Append(ev)
				}
			case []string:
				for _, e := range vs {
					l.Append(protoreflect.ValueOfString(e))
				}
			default:
				panic(fmt.Sprintf("sparkconnect: %s.%s: %T for a repeated field", d.FullName(), name, v))
			}
		case fd.Message() != nil:
			fill(m.Mutable(fd).Message(), v.(obj))
		default:
			m.Set(fd, scalar(fd, v))
		}
	}
}

// scalar converts v to fd's kind.
func scalar(fd protoreflect.FieldDescriptor, v any) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(v.(string))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(v.(bool))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes(v.([]byte))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(v.(float64))
	case protoreflect.Int32Kind:
		return protoreflect.ValueOfInt32(int32(toInt64(v)))
	case protoreflect.Int64Kind:
		return protoreflect.ValueOfInt64(toInt64(v))
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByName(protoreflect.Name(v.(string)))
		if ev == nil {
			panic(fmt.Sprintf("sparkconnect: %s has no value %v", fd.Enum().FullName(), v))
		}
		return protoreflect.ValueOfEnum(ev.Number())
	}
	panic(fmt.Sprintf("sparkconnect: %s: kind %s not built here", fd.FullName(), fd.Kind()))
}

func toInt64(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	case int32:
		return int64(n)
	}
	panic(fmt.Sprintf("sparkconnect: %T is not an integer", v))
}

// get reads the field at path (names of nested fields) of m; ok is false
// when a message on the way, or the field itself, is not set.
func get(m proto.Message, path ...string) (protoreflect.Value, bool) {
	r := m.ProtoReflect()
	for i, name := range path {
		fd := r.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			panic(fmt.Sprintf("sparkconnect: %s has no field %s", r.Descriptor().FullName(), name))
		}
		if !r.Has(fd) {
			return protoreflect.Value{}, false
		}
		v := r.Get(fd)
		if i == len(path)-1 {
			return v, true
		}
		r = v.Message()
	}
	return protoreflect.ValueOfMessage(r), true
}

// getString is get for a string field ("" when not set).
func getString(m proto.Message, path ...string) string {
	if v, ok := get(m, path...); ok {
		return v.String()
	}
	return ""
}

// has reports whether the field at path is set (a oneof's case).
func has(m proto.Message, path ...string) bool {
	_, ok := get(m, path...)
	return ok
}

// session holds what every request of a session carries.
type session struct {
	id, user string
	server   string // the server-side session id, once seen
}

func (s *session) base() obj {
	o := obj{"session_id": s.id, "user_context": obj{"user_id": s.user}, "client_type": clientType}
	return o
}

func (s *session) observed(o obj) obj {
	if s.server != "" {
		o["client_observed_server_side_session_id"] = s.server
	}
	return o
}

// Requests.

func (s *session) executeRequest(operationID string, tags []string, plan obj) proto.Message {
	o := s.observed(s.base())
	o["operation_id"] = operationID
	o["plan"] = plan
	o["request_options"] = []obj{{"reattach_options": obj{"reattachable": true}}}
	if len(tags) > 0 {
		o["tags"] = tags
	}
	return newMessage("ExecutePlanRequest", o)
}

func (s *session) reattachRequest(operationID, lastResponseID string) proto.Message {
	o := s.observed(s.base())
	o["operation_id"] = operationID
	if lastResponseID != "" {
		o["last_response_id"] = lastResponseID
	}
	return newMessage("ReattachExecuteRequest", o)
}

func (s *session) releaseExecuteRequest(operationID string) proto.Message {
	o := s.observed(s.base())
	o["operation_id"] = operationID
	o["release_all"] = obj{}
	return newMessage("ReleaseExecuteRequest", o)
}

func (s *session) interruptTagRequest(tag string) proto.Message {
	o := s.observed(s.base())
	o["interrupt_type"] = "INTERRUPT_TYPE_TAG"
	o["operation_tag"] = tag
	return newMessage("InterruptRequest", o)
}

func (s *session) interruptAllRequest() proto.Message {
	o := s.observed(s.base())
	o["interrupt_type"] = "INTERRUPT_TYPE_ALL"
	return newMessage("InterruptRequest", o)
}

func (s *session) releaseSessionRequest() proto.Message {
	return newMessage("ReleaseSessionRequest", s.base())
}

func (s *session) versionRequest() proto.Message {
	o := s.observed(s.base())
	o["spark_version"] = obj{}
	return newMessage("AnalyzePlanRequest", o)
}

// artifactBegin starts a chunked artifact upload; artifactChunk goes on.
func (s *session) artifactBegin(name string, total, chunks int64, first, crc []byte) proto.Message {
	o := s.observed(s.base())
	o["begin_chunk"] = obj{"name": name, "total_bytes": total, "num_chunks": chunks,
		"initial_chunk": obj{"data": first, "crc": crcValue(crc)}}
	return newMessage("AddArtifactsRequest", o)
}

// artifactSingle uploads an artifact that fits one chunk.
func (s *session) artifactSingle(name string, data, crc []byte) proto.Message {
	o := s.observed(s.base())
	o["batch"] = obj{"artifacts": []obj{{"name": name, "data": obj{"data": data, "crc": crcValue(crc)}}}}
	return newMessage("AddArtifactsRequest", o)
}

func (s *session) artifactChunk(data, crc []byte) proto.Message {
	o := s.observed(s.base())
	o["chunk"] = obj{"data": data, "crc": crcValue(crc)}
	return newMessage("AddArtifactsRequest", o)
}

// crcValue is a CRC-32 (IEEE) as Spark reads it: an int64 holding the
// unsigned 32-bit value.
func crcValue(sum []byte) int64 {
	return int64(uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3]))
}

// Plans.

// fitPlan fits the estimator (a class name on the server's allow-list)
// with params on dataset.
func fitPlan(estimator string, params map[string]any, dataset obj) obj {
	lits := map[string]obj{}
	for k, v := range params {
		lits[k] = literal(v)
	}
	return obj{"command": obj{"ml_command": obj{"fit": obj{
		"estimator": obj{"name": estimator, "uid": "", "type": "OPERATOR_TYPE_ESTIMATOR"},
		"params":    obj{"params": lits},
		"dataset":   dataset,
	}}}}
}

// deletePlan frees models the server holds for the session.
func deletePlan(refs ...string) obj {
	var rs []obj
	for _, r := range refs {
		rs = append(rs, obj{"id": r})
	}
	return obj{"command": obj{"ml_command": obj{"delete": obj{"obj_refs": rs}}}}
}

// rootPlan is a plan that returns the rows of relation.
func rootPlan(relation obj) obj { return obj{"root": relation} }

// literal is a Spark literal of a Go value: int as integer, int64 as
// long, float64 as double, string, bool.
func literal(v any) obj {
	switch x := v.(type) {
	case int:
		if x < math.MinInt32 || x > math.MaxInt32 {
			return obj{"long": int64(x)}
		}
		return obj{"integer": x}
	case int64:
		return obj{"long": x}
	case float64:
		return obj{"double": x}
	case string:
		return obj{"string": x}
	case bool:
		return obj{"boolean": x}
	}
	panic(fmt.Sprintf("sparkconnect: no literal for %T", v))
}

// Relations, each with a plan id the server may log.

// Relation is a Spark relation (a DataFrame's plan) built by this
// package's functions.
type Relation struct{ o obj }

func relation(kind string, body obj) Relation { return Relation{obj{kind: body}} }

// CachedRelation is the rows of a LocalRelation uploaded as the artifact
// cache/HASH (UploadCached).
func CachedRelation(hash string) Relation {
	return relation("cached_local_relation", obj{"hash": hash})
}

// TextFiles reads paths with Spark's text source: a column value, one
// row a line.
func TextFiles(paths []string) Relation {
	return relation("read", obj{"data_source": obj{"format": "text", "paths": paths}})
}

// Select projects r with SQL expressions (Spark's selectExpr).
func (r Relation) Select(exprs ...string) Relation {
	var es []obj
	for _, e := range exprs {
		es = append(es, exprString(e))
	}
	return relation("project", obj{"input": r.o, "expressions": es})
}

// Where keeps the rows of r where the SQL condition holds.
func (r Relation) Where(cond string) Relation {
	return relation("filter", obj{"input": r.o, "condition": exprString(cond)})
}

// GroupBy groups r by the column col and computes aggs (SQL
// expressions); with col "" it aggregates all of r into one row.
func (r Relation) GroupBy(col string, aggs ...string) Relation {
	var es []obj
	for _, e := range aggs {
		es = append(es, exprString(e))
	}
	body := obj{"input": r.o, "group_type": "GROUP_TYPE_GROUPBY", "aggregate_expressions": es}
	if col != "" {
		body["grouping_expressions"] = []obj{{"unresolved_attribute": obj{"unparsed_identifier": col}}}
	}
	return relation("aggregate", body)
}

// UnionAll appends the rows of o to r's (by position).
func (r Relation) UnionAll(o Relation) Relation {
	return relation("set_op", obj{"left_input": r.o, "right_input": o.o, "set_op_type": "SET_OP_TYPE_UNION", "is_all": true})
}

// modelAttribute is the DataFrame a fitted model's method returns
// (Word2VecModel.getVectors: word, vector).
func modelAttribute(ref, method string) Relation {
	return relation("ml_relation", obj{"fetch": obj{"obj_ref": obj{"id": ref}, "methods": []obj{{"method": method}}}})
}

// vectorsAsArrays selects word and vector of a getVectors relation with
// the vector as array<float> (vector_to_array(vector, 'float32'), which
// the Connect server plans itself: it is no SQL function).
func vectorsAsArrays(r Relation) Relation {
	toArray := obj{"unresolved_function": obj{"function_name": "vector_to_array", "arguments": []obj{
		{"unresolved_attribute": obj{"unparsed_identifier": "vector"}},
		{"literal": obj{"string": "float32"}},
	}}}
	return relation("project", obj{"input": r.o, "expressions": []obj{
		{"unresolved_attribute": obj{"unparsed_identifier": "word"}},
		{"alias": obj{"expr": toArray, "name": []string{"vector"}}},
	}})
}

func exprString(e string) obj { return obj{"expression_string": obj{"expression": e}} }

// localRelationBytes wraps Arrow IPC stream bytes of length n as the
// wire form of a LocalRelation{data} message, written before the data:
// the field's tag and length. An uploaded cache artifact holds such a
// message (CachedRelation); the data itself is streamed after it, so
// that the message is never held whole in memory.
func localRelationPrefix(n int64) []byte {
	fd := localRelationData()
	b := protowire.AppendTag(nil, fd.Number(), protowire.BytesType)
	return protowire.AppendVarint(b, uint64(n))
}

// localRelationData is LocalRelation's data field, found once by name so
// that the prefix above stays tied to the registered definition.
func localRelationData() protoreflect.FieldDescriptor {
	mt, err := protoregistry.GlobalTypes.FindMessageByName("spark.connect.LocalRelation")
	if err != nil {
		panic(err)
	}
	fd := mt.Descriptor().Fields().ByName("data")
	if fd == nil || fd.Kind() != protoreflect.BytesKind {
		panic("sparkconnect: LocalRelation.data is not a bytes field")
	}
	return fd
}

// Answers.

// newAnswer returns an empty message of the type spark.connect.NAME, to
// receive an answer into.
func newAnswer(name string) proto.Message { return newMessage(name, nil) }

// stageInfo is one stage of an execution_progress answer.
type stageInfo struct {
	id, tasks, done int64
	finished        bool
}

// progressOf reads an ExecutePlanResponse's execution_progress.
func progressOf(resp proto.Message) ([]stageInfo, bool) {
	v, ok := get(resp, "execution_progress")
	if !ok {
		return nil, false
	}
	m := v.Message()
	l := m.Get(m.Descriptor().Fields().ByName("stages")).List()
	var out []stageInfo
	for i := 0; i < l.Len(); i++ {
		st := l.Get(i).Message()
		f := st.Descriptor().Fields()
		out = append(out, stageInfo{
			id: st.Get(f.ByName("stage_id")).Int(), tasks: st.Get(f.ByName("num_tasks")).Int(),
			done: st.Get(f.ByName("num_completed_tasks")).Int(), finished: st.Get(f.ByName("done")).Bool(),
		})
	}
	return out, true
}

// arrowBatchOf reads an ExecutePlanResponse's arrow_batch data.
func arrowBatchOf(resp proto.Message) ([]byte, bool) {
	v, ok := get(resp, "arrow_batch", "data")
	if !ok {
		return nil, false
	}
	return v.Bytes(), true
}

// modelRefOf reads a fit's answer: the fitted model's reference.
func modelRefOf(resp proto.Message) (string, bool) {
	v, ok := get(resp, "ml_command_result", "operator_info", "obj_ref", "id")
	if !ok {
		return "", false
	}
	return v.String(), true
}

// warningOf reads a fit's warning, if the server sent one.
func warningOf(resp proto.Message) string {
	return getString(resp, "ml_command_result", "operator_info", "warning_message")
}

// artifactsAccepted reads an AddArtifactsResponse: it lists artifacts and
// the server found every one's checksums right.
func artifactsAccepted(resp proto.Message) bool {
	v, ok := get(resp, "artifacts")
	if !ok || v.List().Len() == 0 {
		return false
	}
	l := v.List()
	for i := 0; i < l.Len(); i++ {
		a := l.Get(i).Message()
		if !a.Get(a.Descriptor().Fields().ByName("is_crc_successful")).Bool() {
			return false
		}
	}
	return true
}
