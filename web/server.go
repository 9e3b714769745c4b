package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/link"
)

// DefaultMaxMessage bounds one message of the live link.
const DefaultMaxMessage = 1 << 20

//go:embed static
var static embed.FS

// Server serves taskmasterd's HTTP endpoints. Set its fields before
// calling Handler.
type Server struct {
	// Link serves /api/socket.
	Link *link.Server
	// Status returns every job's status, for /healthz.
	Status func(ctx context.Context) ([]jobs.JobStatus, error)
	// Stopping reports whether taskmasterd is shutting down; /healthz then
	// fails, so that load balancers stop sending work. Nil: never.
	Stopping func() bool
	// Metrics serves /metrics; nil for none.
	Metrics http.Handler
	// Token, if set, is needed for /metrics (Authorization: Bearer) and
	// for the live link (in register_control); /healthz then answers
	// without the job names to a request without it.
	Token string
	// Origins are the origins, besides the page's own, whose pages may
	// open the live link (host patterns, as in "dash.example.com" or
	// "*.example.com"). A browser page of any other site is refused, so
	// that it cannot drive a local taskmasterd (cross-site WebSocket
	// hijacking).
	Origins []string
	// Admit, if set, checks each connection before its first request is
	// served and returns why it is refused, or "" (the local-user check
	// of the control port).
	Admit func(net.Conn) string
	// MaxMessage bounds one message of the live link (DefaultMaxMessage
	// if zero).
	MaxMessage int64
	// Logger receives refused connections. Nil discards.
	Logger *slog.Logger
}

// Handler returns the handler of every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	sub, _ := fs.Sub(static, "static")
	mux.Handle("GET /", noSniff(http.FileServerFS(sub)))
	mux.HandleFunc("GET /api/socket", s.socket)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.ownHost(http.HandlerFunc(s.metrics)))
	return s.admit(mux)
}

// ConnContext is for http.Server.ConnContext: it keeps each connection in
// its context, where the admission check finds it.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &admission{conn: c})
}

type connKey struct{}

// admission is the outcome of Admit for one connection, decided once.
type admission struct {
	conn   net.Conn
	once   sync.Once
	reason string
}

func (s *Server) admit(next http.Handler) http.Handler {
	if s.Admit == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := r.Context().Value(connKey{}).(*admission)
		if !ok {
			http.Error(w, "permission denied: connection unknown", http.StatusForbidden)
			return
		}
		a.once.Do(func() { a.reason = s.Admit(a.conn) })
		if a.reason != "" {
			s.logger().Warn("refused an HTTP client", "peer", r.RemoteAddr, "reason", a.reason)
			w.Header().Set("Connection", "close")
			http.Error(w, a.reason, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownHost refuses, when there is no token, a request whose Host is a name
// taskmasterd was not told it has: the mark of DNS rebinding, where a web
// page's own name is pointed at 127.0.0.1, so that its requests (the link
// included: page and link then share an origin) reach taskmasterd as the
// browser's user, whom the local-user check lets in. An address,
// localhost, and the names of Origins are taskmasterd's. With a token the
// page could not register anyway: the browser keeps the token per origin.
// The link applies the same rule to register_control (link.WithForeignHost),
// not to the upgrade: a fleet agent that joins under the manager's name
// proves itself with its secret.
func (s *Server) ownHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Token != "" || s.isOwnHost(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		s.logger().Warn("refused a request for another host name (DNS rebinding?)", "peer", r.RemoteAddr, "host", r.Host, "path", r.URL.Path)
		http.Error(w, fmt.Sprintf("host %q is not one of taskmasterd's names: without -token, the live link and /metrics answer "+
			"only to an IP address, localhost, or a name of -http-origins", r.Host), http.StatusForbidden)
	})
}

// isOwnHost reports whether host (of a Host header, with or without a
// port) is an IP address, localhost or a name under it, or matches one of
// Origins.
func (s *Server) isOwnHost(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.ToLower(strings.TrimSuffix(strings.Trim(name, "[]"), "."))
	if _, err := netip.ParseAddr(name); err == nil {
		return true
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	for _, p := range s.Origins {
		p = strings.ToLower(p)
		if ok, _ := path.Match(p, name); ok {
			return true
		}
		if ok, _ := path.Match(p, strings.ToLower(host)); ok {
			return true
		}
	}
	return false
}

// socket upgrades to a WebSocket and serves the live link on it.
func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	bw := &batchWriter{ResponseWriter: w}
	c, err := websocket.Accept(bw, r, &websocket.AcceptOptions{OriginPatterns: s.Origins})
	if err != nil {
		s.logger().Warn("refused a live link connection", "peer", r.RemoteAddr, "err", err)
		return // Accept has answered
	}
	limit := s.MaxMessage
	if limit <= 0 {
		limit = DefaultMaxMessage
	}
	c.SetReadLimit(-1) // wsConn applies the limit itself, so that the client is told why
	ctx := link.WithPeer(context.WithoutCancel(r.Context()), r.RemoteAddr)
	if s.Token == "" && !s.isOwnHost(r.Host) {
		ctx = link.WithForeignHost(ctx, r.Host)
	}
	if a, ok := r.Context().Value(connKey{}).(*admission); ok {
		if rc, ok := a.conn.(LinkRegistrar); ok {
			ctx = link.WithRegistered(ctx, rc.LinkRegistered)
		}
	}
	s.Link.Serve(ctx, &wsConn{c: c, limit: limit, batch: bw.conn})
}

// LinkRegistrar is a connection (as http.Server's listener gives it, seen
// through ConnContext) that wants to know when its live link client has
// registered: until then it has not said who it is, and its listener may
// close it to make room for newcomers.
type LinkRegistrar interface {
	LinkRegistered()
}

// healthz answers 200 when every job passes the health rule (the one of
// `taskmasterctl health`), 503 otherwise. The body names the failing jobs
// to those who may know them.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := s.Status(ctx)
	body := healthBody{Status: "ok", Unhealthy: []string{}}
	code := http.StatusOK
	if err != nil {
		body.Status, body.Error = "unavailable", err.Error()
		code = http.StatusServiceUnavailable
	}
	for _, j := range st {
		if !j.Passes() {
			body.Unhealthy = append(body.Unhealthy, j.Name)
		}
	}
	switch {
	case s.Stopping != nil && s.Stopping():
		body.Status, code = "stopping", http.StatusServiceUnavailable
	case len(body.Unhealthy) > 0:
		body.Status, code = "unhealthy", http.StatusServiceUnavailable
	}
	if !s.authorized(r) {
		body.Unhealthy, body.Error = nil, ""
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// healthBody is the JSON of /healthz.
type healthBody struct {
	Status    string   `json:"status"` // ok, unhealthy, stopping, unavailable
	Unhealthy []string `json:"unhealthy,omitempty"`
	Error     string   `json:"error,omitempty"`
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.Metrics == nil {
		http.NotFound(w, r)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="taskmasterd"`)
		http.Error(w, "authentication required: Authorization: Bearer <token>", http.StatusUnauthorized)
		return
	}
	s.Metrics.ServeHTTP(w, r)
}

// authorized reports whether r carries the token, or none is needed.
func (s *Server) authorized(r *http.Request) bool {
	if s.Token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(s.Token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// noSniff marks static files so that a browser takes them for what their
// type says, and forbids framing the dashboard (clickjacking).
func noSniff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}
