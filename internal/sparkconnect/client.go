// Package sparkconnect is a Spark Connect client for what Ophicleide asks
// of Spark: one session per job, data uploaded as a cached local relation,
// a Word2Vec fit through Spark Connect's ML commands, rows read back as
// Arrow, progress, interruption and release. It speaks plain gRPC
// (/spark.connect.SparkConnectService/...) with the message types of the
// Go module github.com/apache/spark-connect-go, whose own client has no
// ML, reattach, interrupt or release; every message is built in
// messages.go.
//
// Executions are reattachable: a server ends each answer stream after
// spark.connect.execute.reattachable.senderMaxStreamDuration (2 min by
// default) and the client reattaches from the last answer it saw, so a
// fit of hours survives it. Cancelling an execution's context interrupts
// it on the server (by the session's tag); Close releases the session,
// which frees its models and stops what still runs in it.
package sparkconnect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/spark-connect-go/spark/client/channel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const service = "/spark.connect.SparkConnectService/"

// MaxMessageBytes is the largest answer accepted (Spark's own
// spark.connect.grpc.maxInboundMessageSize default; its Arrow batches are
// at most 4 MiB).
const MaxMessageBytes = 128 << 20

// Endpoint is a parsed Spark Connect address,
// sc://HOST[:PORT][/;token=...;use_ssl=true;user_id=...;NAME=VALUE].
type Endpoint struct {
	Host    string
	Port    int
	Token   string            // sent as a bearer token; implies TLS
	TLS     bool              // use_ssl=true, or a token
	User    string            // user_id (default "ophicleide")
	Headers map[string]string // other parameters, sent as gRPC metadata
}

// Addr is host:port.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, fmt.Sprint(e.Port)) }

// String is the address without its token, for logs.
func (e Endpoint) String() string { return "sc://" + e.Addr() }

// ParseURL parses a Spark Connect URL (the Go module's parser, which
// Spark's other clients agree with; port 15002 by default).
func ParseURL(raw string) (Endpoint, error) {
	b, err := channel.NewBuilder(raw)
	if err != nil {
		return Endpoint{}, fmt.Errorf("spark connect URL: %w (want sc://HOST:PORT[/;token=...;use_ssl=true])", err)
	}
	e := Endpoint{Host: b.Host(), Port: b.Port(), Token: b.Token(), TLS: b.Token() != "", User: "ophicleide", Headers: map[string]string{}}
	if strings.Contains(raw, ";user_id=") {
		e.User = b.User()
	}
	for k, v := range b.Headers() {
		switch k {
		case "use_ssl":
			e.TLS = e.TLS || v == "true"
		default:
			e.Headers[k] = v
		}
	}
	if e.Port < 1 || e.Port > 65535 {
		return Endpoint{}, fmt.Errorf("spark connect URL: port %d out of range", e.Port)
	}
	return e, nil
}

// Conn is a connection to a Spark Connect server, shared by sessions.
type Conn struct {
	ep         Endpoint
	cc         *grpc.ClientConn
	log        *slog.Logger
	reattaches atomic.Int64
}

// Reattaches counts the executions reattached after the server ended
// their answer stream early (senderMaxStreamDuration) or it broke.
func (c *Conn) Reattaches() int64 { return c.reattaches.Load() }

// Dial returns a connection to ep; it connects lazily, at the first call.
func Dial(ep Endpoint, log *slog.Logger) (*Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes)),
		grpc.WithUserAgent("ophicleide"),
	}
	if ep.TLS {
		roots, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("spark connect: system certificates: %w", err)
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if ep.Token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(ep.Token)))
	}
	cc, err := grpc.NewClient(ep.Addr(), opts...)
	if err != nil {
		return nil, fmt.Errorf("spark connect %s: %w", ep, err)
	}
	return &Conn{ep: ep, cc: cc, log: log}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.cc.Close() }

// Endpoint is the address c connects to.
func (c *Conn) Endpoint() Endpoint { return c.ep }

// bearer sends the URL's token with every call (over TLS only).
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return true }

// Session is one Spark Connect session: the models it fits and the data
// it uploads are its own, released with it. Its methods are for one
// goroutine at a time.
type Session struct {
	conn *Conn
	s    session
	tag  string // on every execution, for Interrupt
}

// Session returns the session id (a UUID) on c. The id is the caller's,
// so that a later attempt at the same work can release an earlier
// session it knows only by id (ReleaseSession).
func (c *Conn) Session(id string) *Session {
	return &Session{conn: c, s: session{id: id, user: c.ep.User}, tag: "ophicleide-" + id}
}

// ID is the session id.
func (s *Session) ID() string { return s.s.id }

func (s *Session) ctx(ctx context.Context) context.Context {
	if len(s.conn.ep.Headers) == 0 {
		return ctx
	}
	var kv []string
	for k, v := range s.conn.ep.Headers {
		kv = append(kv, k, v)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// unary calls method with req, into the answer type resp names.
func (s *Session) unary(ctx context.Context, method string, req proto.Message, resp string) (proto.Message, error) {
	out := newAnswer(resp)
	if err := s.conn.cc.Invoke(s.ctx(ctx), service+method, req, out); err != nil {
		return nil, ctxOr(ctx, wrap(err))
	}
	if id := getString(out, "server_side_session_id"); id != "" && s.s.server == "" {
		s.s.server = id
	}
	return out, nil
}

// Version is the server's Spark version, e.g. "4.0.1".
func (s *Session) Version(ctx context.Context) (string, error) {
	resp, err := s.unary(ctx, "AnalyzePlan", s.s.versionRequest(), "AnalyzePlanResponse")
	if err != nil {
		return "", err
	}
	return getString(resp, "spark_version", "version"), nil
}

// Close releases the session on the server: its executions stop, its
// models and cached data are freed. A session the server does not know
// (never used, or released already) is no error.
func (s *Session) Close(ctx context.Context) error {
	_, err := s.unary(ctx, "ReleaseSession", s.s.releaseSessionRequest(), "ReleaseSessionResponse")
	if err != nil && isNotFound(err) {
		return nil
	}
	return err
}

// Interrupt stops the session's running executions.
func (s *Session) Interrupt(ctx context.Context) error {
	_, err := s.unary(ctx, "Interrupt", s.s.interruptTagRequest(s.tag), "InterruptResponse")
	return err
}

// Stage is the progress of one stage of an execution, as the server
// reports it every spark.connect.progress.reportInterval.
type Stage struct {
	ID, Tasks, Done int64
	Finished        bool
}

// handler receives an execution's answers: Arrow data, the fitted
// model's reference, progress.
type handler struct {
	arrow    func(data []byte) error
	modelRef func(ref, warning string)
	progress func([]Stage)
}

// reattaches bounds how often one execution reattaches after errors (not
// after the server's normal end of a stream, which is unbounded).
const reattaches = 5

// execute runs plan as a reattachable execution, giving its answers to
// h. If ctx ends first, it interrupts the execution on the server.
func (s *Session) execute(ctx context.Context, plan obj, h handler) error {
	op := newOperationID()
	var (
		stream   grpc.ClientStream
		err      error
		last     string
		complete bool
		failures int
		answered bool
	)
	open := func(method string, req proto.Message) error {
		stream, err = s.conn.cc.NewStream(s.ctx(ctx), &grpc.StreamDesc{ServerStreams: true}, service+method)
		if err != nil {
			return err
		}
		if err := stream.SendMsg(req); err != nil {
			return err
		}
		return stream.CloseSend()
	}
	defer func() {
		if ctx.Err() != nil {
			ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := s.Interrupt(ictx); err != nil {
				s.conn.log.Warn("spark: interrupting", "session", s.s.id, "err", err)
			}
		}
		if answered {
			// Frees the server's buffered answers; best effort.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			s.unary(rctx, "ReleaseExecute", s.s.releaseExecuteRequest(op), "ReleaseExecuteResponse")
		}
	}()
	if err := open("ExecutePlan", s.s.executeRequest(op, []string{s.tag}, plan)); err != nil {
		return ctxOr(ctx, wrap(err))
	}
	for !complete {
		resp := newAnswer("ExecutePlanResponse")
		err := stream.RecvMsg(resp)
		switch {
		case err == io.EOF:
			// The server ended this stream before the result: reattach.
			s.conn.reattaches.Add(1)
			if err := open("ReattachExecute", s.s.reattachRequest(op, last)); err != nil {
				return ctxOr(ctx, wrap(err))
			}
			continue
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			if !answered || !reattachable(err) || failures >= reattaches {
				return wrap(err)
			}
			failures++
			s.conn.reattaches.Add(1)
			s.conn.log.Info("spark: reattaching after an error", "session", s.s.id, "operation", op, "err", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(failures) * 500 * time.Millisecond):
			}
			if err := open("ReattachExecute", s.s.reattachRequest(op, last)); err != nil {
				return ctxOr(ctx, wrap(err))
			}
			continue
		}
		answered, failures = true, 0
		if id := getString(resp, "response_id"); id != "" {
			last = id
		}
		if id := getString(resp, "server_side_session_id"); id != "" && s.s.server == "" {
			s.s.server = id
		}
		switch {
		case has(resp, "result_complete"):
			complete = true
		case has(resp, "arrow_batch"):
			data, _ := arrowBatchOf(resp)
			if h.arrow == nil {
				return fmt.Errorf("spark connect: unexpected rows in the answer")
			}
			if err := h.arrow(data); err != nil {
				return err
			}
		case has(resp, "ml_command_result"):
			if ref, ok := modelRefOf(resp); ok && h.modelRef != nil {
				h.modelRef(ref, warningOf(resp))
			}
		case has(resp, "execution_progress"):
			if st, ok := progressOf(resp); ok && h.progress != nil {
				var out []Stage
				for _, x := range st {
					out = append(out, Stage{ID: x.id, Tasks: x.tasks, Done: x.done, Finished: x.finished})
				}
				h.progress(out)
			}
		}
	}
	return nil
}

// ctxOr is ctx's error if it ended, else err.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// reattachable reports errors after which an execution is reattached:
// the connection broke, the stream was reset. Spark answers its own
// errors with INTERNAL and an ErrorInfo: those end the execution, unless
// another call took the stream over (INVALID_CURSOR.DISCONNECTED), as
// Spark's own clients read it.
func reattachable(err error) bool {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unavailable:
		return true
	case codes.Internal:
		return strings.Contains(st.Message(), "INVALID_CURSOR.DISCONNECTED") || len(st.Details()) == 0
	}
	return false
}

// Error is an error the Spark Connect server answered, or failing to
// reach it.
type Error struct {
	Code    codes.Code
	Class   string // Spark's error class (PATH_NOT_FOUND, ...), when given
	Message string // the server's message
	Err     error
}

func (e *Error) Error() string {
	if e.Class != "" && !strings.Contains(e.Message, e.Class) {
		return fmt.Sprintf("spark: [%s] %s", e.Class, e.Message)
	}
	return "spark: " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Unreachable reports that the server could not be reached (or went away).
func (e *Error) Unreachable() bool { return e.Code == codes.Unavailable }

// wrap turns a gRPC error into an *Error with Spark's error class.
func wrap(err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	out := &Error{Code: st.Code(), Message: st.Message(), Err: err}
	for _, d := range st.Details() {
		if info, ok := d.(interface {
			GetReason() string
			GetMetadata() map[string]string
		}); ok {
			if c := info.GetMetadata()["errorClass"]; c != "" {
				out.Class = c
			}
		}
	}
	if out.Class == "" {
		out.Class = bracketClass(st.Message())
	}
	return out
}

// bracketClass is the error class a message starts with ("[PATH_NOT_FOUND] ...").
func bracketClass(msg string) string {
	if strings.HasPrefix(msg, "[") {
		if i := strings.IndexByte(msg, ']'); i > 1 && !strings.ContainsAny(msg[1:i], " ") {
			return msg[1:i]
		}
	}
	return ""
}

func isNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && (strings.Contains(e.Class, "SESSION_NOT_FOUND") || strings.Contains(e.Class, "SESSION_CLOSED") || e.Code == codes.NotFound)
}
