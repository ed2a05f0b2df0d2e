package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ophicleide/ophicleide/internal/bytesize"
)

// Kind classifies an *Error. Its values are stable strings, safe to store
// or to show.
type Kind string

// The kinds of *Error. Temporary reports which of them retrying may cure.
const (
	KindInvalidURL     Kind = "invalid-url"     // empty, unparsable, not absolute, or no host
	KindScheme         Kind = "scheme"          // a scheme other than http and https, also as a redirect target
	KindPrivateAddress Kind = "private-address" // the host resolves to an address refused by Options.AllowPrivate
	KindDNS            Kind = "dns"             // the host name could not be resolved
	KindConnect        Kind = "connect"         // no connection (refused, reset, TLS failure, connect timeout)
	KindTimeout        Kind = "timeout"         // Options.Timeout ran out, before or while reading the body
	KindHTTPStatus     Kind = "http-status"     // the server answered with a status other than 2xx
	KindNotText        Kind = "not-text"        // the content is not text
	KindTooLarge       Kind = "too-large"       // the content is larger than Options.MaxBytes
	KindRedirects      Kind = "redirects"       // more than Options.MaxRedirects redirects
	KindDecode         Kind = "decode"          // bad gzip data or an unknown charset
	KindRead           Kind = "read"            // the connection failed while the body was read
	KindCanceled       Kind = "canceled"        // the caller's context was cancelled or ran out
)

// Error is the error of Fetch and of reads from a Body, shaped like
// os.PathError: the URL as the caller gave it, what went wrong, the HTTP
// status when the server answered, and the underlying error. Its message is
// meant for the user who typed the URL.
type Error struct {
	URL        string // as given to Fetch, trimmed
	Kind       Kind
	StatusCode int   // the HTTP status for KindHTTPStatus, else 0
	Attempts   int   // requests made by Fetch before giving up; 0 for errors of Body reads
	Err        error // the cause; for KindCanceled the context's error
}

// Error returns a message a user understands, such as
// "fetching https://example.org/x: the server answered 404 Not Found".
// It shows nothing of the server's network: neither the addresses a host
// name resolved to, nor the name server's, nor the local ends of
// connections; Err keeps them, for logs.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("fetching ")
	b.WriteString(showURL(e.URL))
	b.WriteString(": ")
	switch e.Kind {
	case KindHTTPStatus:
		b.WriteString("the server answered ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		if t := http.StatusText(e.StatusCode); t != "" {
			b.WriteString(" " + t)
		}
	case KindDNS:
		b.WriteString(dnsText(e.Err))
	case KindConnect:
		b.WriteString("could not connect: " + causeText(e.Err))
	case KindRead:
		b.WriteString("the connection failed while reading: " + causeText(e.Err))
	case KindCanceled:
		b.WriteString("stopped: " + causeText(e.Err))
	default:
		if e.Err != nil {
			b.WriteString(e.Err.Error())
		} else {
			b.WriteString(string(e.Kind))
		}
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether fetching the same URL again later may succeed:
// true for timeouts, connection and read failures, temporary DNS failures,
// HTTP 408, 429 and 5xx; false for everything else, TLS certificate
// failures included.
func (e *Error) Temporary() bool {
	switch e.Kind {
	case KindTimeout, KindRead:
		return true
	case KindConnect:
		return !isCertificateError(e.Err)
	case KindDNS:
		var d *net.DNSError
		return errors.As(e.Err, &d) && (d.IsTemporary || d.IsTimeout) && !d.IsNotFound
	case KindHTTPStatus:
		return e.StatusCode >= 500 || e.StatusCode == http.StatusRequestTimeout ||
			e.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// KindOf returns the Kind of the first *Error in err's chain, or "" if
// there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// dnsText is the message of a failed name resolution without the name
// server's address that *net.DNSError shows ("lookup HOST on
// 10.0.0.2:53: no such host"): "could not find the host HOST (no such
// host)".
func dnsText(err error) string {
	var de *net.DNSError
	if !errors.As(err, &de) {
		return "could not find the host: " + causeText(err)
	}
	why := stripAddrs(de.Err)
	switch {
	case de.IsNotFound:
		why = "no such host"
	case de.IsTimeout:
		why = "the name server did not answer in time"
	case why == "":
		why = "unknown error"
	}
	if de.Name == "" {
		return "could not find the host (" + why + ")"
	}
	return "could not find the host " + de.Name + " (" + why + ")"
}

// causeText is the message of a network error without the addresses that
// *net.OpError and *net.DNSError show: "connection refused", "connection
// reset by peer", "timed out".
func causeText(err error) string {
	var (
		de    *net.DNSError
		errno syscall.Errno
		ne    net.Error
		oe    *net.OpError
	)
	switch {
	case err == nil:
		return "unknown error"
	case errors.As(err, &de):
		return dnsText(de)
	case isCertificateError(err):
		return stripAddrs(err.Error())
	case errors.As(err, &errno):
		return errno.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.As(err, &oe) && oe.Err != nil:
		return causeText(oe.Err)
	}
	return stripAddrs(err.Error())
}

// addrPattern matches IPv4 and IPv6 addresses, with or without a port.
var addrPattern = regexp.MustCompile(`\[[0-9A-Fa-f:.]+(%[^\]]*)?\](:\d+)?|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b|(\b|::)[0-9A-Fa-f]{0,4}(::?[0-9A-Fa-f]{1,4}){2,7}(::)?\b|::1\b`)

// stripAddrs replaces the IP addresses in s, the last resort of causeText
// for messages it does not know.
func stripAddrs(s string) string {
	return addrPattern.ReplaceAllString(s, "(address)")
}

// showURL quotes a URL that would be unreadable in a message.
func showURL(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return strconv.Quote(s)
	}
	return s
}

func isCertificateError(err error) bool {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// The causes below carry the details of their kind; their messages are the
// part of Error's message after the URL.

type invalidURLError struct{ why string }

func (e *invalidURLError) Error() string { return e.why }

type schemeError struct {
	scheme   string
	redirect string // the redirect target, if the scheme came from a redirect
}

func (e *schemeError) Error() string {
	if e.redirect != "" {
		return fmt.Sprintf("the server redirected to %s; only http and https URLs are fetched", showURL(e.redirect))
	}
	return fmt.Sprintf("the scheme %q is not supported; only http and https URLs are fetched", e.scheme)
}

// privateAddressError keeps the address refused, for logs only: the
// message does not show it, so that users cannot map the server's network
// by naming its hosts.
type privateAddressError struct{ addr string }

func (e *privateAddressError) Error() string {
	return "resolves to a private address; private addresses are refused unless the server runs with --allow-private-urls"
}

type redirectsError struct{ max int }

func (e *redirectsError) Error() string {
	if e.max <= 0 {
		return "the server answered with a redirect, and redirects are not followed"
	}
	return fmt.Sprintf("stopped after %d redirects (a redirect loop?)", e.max)
}

type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string { return "timed out after " + e.d.String() }
func (e *timeoutError) Timeout() bool { return true }
func (e *timeoutError) Unwrap() error { return context.DeadlineExceeded }

type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return "is larger than the limit of " + bytesize.Format(e.limit)
}

// compressedError is the cause of a KindNotText error for content that is
// still compressed once gzip is undone.
type compressedError struct {
	format string
	nested bool // inside gzip (a .gz file or Content-Encoding gzip)
}

func (e *compressedError) Error() string {
	if e.nested {
		return fmt.Sprintf("is compressed more than once (%s inside gzip); send plain text or a single gzip layer", e.format)
	}
	return fmt.Sprintf("is compressed with %s, which is not decompressed; send plain text or a single gzip layer", e.format)
}

type notTextError struct{ served, sniffed string }

func (e *notTextError) Error() string {
	served := e.served
	if served == "" {
		served = "none given"
	}
	if e.sniffed != "" && e.sniffed != e.served {
		return fmt.Sprintf("is not text (content type %s, the content looks like %s)", served, e.sniffed)
	}
	return fmt.Sprintf("is not text (content type %s)", served)
}

type decodeError struct {
	what string
	err  error
}

func (e *decodeError) Error() string { return e.what + ": " + causeText(e.err) }
func (e *decodeError) Unwrap() error { return e.err }

// classify turns an error of the HTTP client or of a body read into an
// *Error. ctx is the caller's context, actx the attempt's (with the
// timeout); reading tells whether the response headers had arrived.
func (f *Fetcher) classify(ctx, actx context.Context, raw string, err error, reading bool) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	e := &Error{URL: raw}
	var (
		ue  *url.Error
		pe  *privateAddressError
		re  *redirectsError
		se  *schemeError
		de  *net.DNSError
		dce *decodeError
		sl  *slowError
	)
	if errors.As(err, &ue) {
		err = ue.Err // its message repeats the method and URL
	}
	switch {
	case errors.As(err, &pe):
		e.Kind, e.Err = KindPrivateAddress, pe
	case ctx.Err() != nil:
		e.Kind, e.Err = KindCanceled, ctx.Err()
	case errors.As(err, &sl):
		e.Kind, e.Err = KindTimeout, sl
	case errors.As(context.Cause(actx), &sl):
		e.Kind, e.Err = KindTimeout, sl
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		e.Kind, e.Err = KindTimeout, &timeoutError{f.opts.Timeout}
	case !reading && isHeaderTimeout(err):
		e.Kind, e.Err = KindTimeout, &headerTimeoutError{f.opts.HeaderTimeout}
	case errors.As(err, &re):
		e.Kind, e.Err = KindRedirects, re
	case errors.As(err, &se):
		e.Kind, e.Err = KindScheme, se
	case errors.As(err, &dce):
		e.Kind, e.Err = KindDecode, dce
	case errors.As(err, &de):
		e.Kind, e.Err = KindDNS, de
	case reading:
		e.Kind, e.Err = KindRead, err
	default:
		e.Kind, e.Err = KindConnect, err
	}
	return e
}

// headerTimeoutError: the server took the request and sent no response
// headers in time.
type headerTimeoutError struct{ d time.Duration }

func (e *headerTimeoutError) Error() string {
	return "the server sent no response within " + e.d.String()
}
func (e *headerTimeoutError) Timeout() bool { return true }

// isHeaderTimeout recognises the transport's ResponseHeaderTimeout, which
// has no type of its own: a timeout whose text says so (dial and TLS
// handshake timeouts are timeouts too, with other words).
func isHeaderTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && strings.Contains(err.Error(), "awaiting response headers")
}
