// Package fetch owns downloading the text a user names by URL: one HTTP GET
// per URL, made safe for a server that fetches whatever its users type. It
// knows nothing about training, jobs, stores or the Ophicleide API; the
// worker streams a Body into the tokenizer.
//
// The rules, all enforced by Fetcher.Fetch and the Body it returns:
//
//   - URLs: only http and https with a host; anything else is an *Error of
//     kind KindInvalidURL or KindScheme, also as a redirect target. At most
//     Options.MaxRedirects redirects are followed (KindRedirects).
//   - SSRF: unless Options.AllowPrivate, the address of every connection is
//     checked after name resolution, in the dialer, so that neither a
//     redirect nor DNS rebinding gets around it: loopback, private (RFC
//     1918, fc00::/7), link-local, unspecified, multicast, CGNAT
//     (100.64.0.0/10), documentation and reserved IPv4 ranges are refused,
//     written as IPv4 or as IPv4-mapped, IPv4-compatible, IPv4-translated
//     or NAT64 IPv6 (KindPrivateAddress); so are the IPv6 ranges that
//     reach IPv4 through a relay or a local translator (6to4, Teredo,
//     local-use NAT64), and discard-only, documentation, ORCHID and
//     site-local ones.
//     Environment proxies are not used.
//   - Content: text/* is accepted (text/html too: its markup is returned,
//     and tokenised, as text); application/octet-stream, application/gzip,
//     application/x-gzip and a missing type are accepted when their content
//     sniffs as text with http.DetectContentType; anything else is
//     KindNotText. Content-Encoding gzip is decoded, and content starting
//     with the gzip magic number (a .gz file) is gunzipped before sniffing.
//     Content that is still compressed after that (gzip inside a .gz file,
//     the usual decompression bomb, or zstd, xz, bzip2, zip, 7z) is
//     KindNotText, refused before it is decompressed.
//   - Charset: from a byte order mark, the Content-Type header, or guessed
//     from the first 4 KiB (UTF-8 if valid, else windows-1252); converted to
//     UTF-8 with golang.org/x/text. UTF-8 content is returned unchanged,
//     byte order mark included (the tokenizer skips it). An unknown charset
//     is KindDecode.
//   - Size: Options.MaxBytes bounds the content after decompression. A
//     Content-Length above it fails before the body is read; otherwise
//     reading past it fails with KindTooLarge, never a silent truncation.
//   - Time: Options.ConnectTimeout bounds each connection's set-up;
//     Options.Timeout bounds each attempt, the reading of the Body included
//     (KindTimeout); once the headers have arrived, a body slower than
//     Options.MinRate over Options.RateWindow, a stalled one included, is
//     KindTimeout too; the caller's context bounds everything
//     (KindCanceled), so a time limit for several URLs is the caller's.
//   - Status: 2xx is success; 408, 429 and 5xx are temporary; other
//     statuses are permanent (KindHTTPStatus with Error.StatusCode).
//   - Retries: temporary failures (timeouts, connection failures, temporary
//     DNS failures, temporary statuses) are retried Options.Retries times
//     with exponential backoff and jitter, waiting at least what a
//     Retry-After header of a 429 or 503 asks (capped at 30 s). Once Fetch
//     has returned a Body, failures while reading it are not retried.
//
// Every error is an *Error carrying the URL, a Kind and, for HTTP, the
// status; its message is meant for the user who gave the URL, and shows
// nothing of the server's network (the addresses names resolve to, the
// name server, the local ends of connections), which the wrapped cause
// keeps.
package fetch
