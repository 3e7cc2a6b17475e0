package metrics

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"

	"github.com/pinspect/pinspect/collector/userfile"
)

// WebConfig is a parsed --web.config.file (exporter-toolkit's format:
// tls_server_config, basic_auth_users, http_server_config.headers,
// rate_limit). Every file it names is read when it is loaded, bounded
// (userfile), so nothing is read while requests are served; Web.Reload
// (SIGHUP) loads it again.
type WebConfig struct {
	// TLS is the server's TLS configuration, nil for plain HTTP.
	TLS *tls.Config
	// CertAuth is true when a client certificate verified against
	// client_ca_file authenticates a client.
	CertAuth bool
	// users maps basic-auth user names to bcrypt hashes.
	users   map[string][]byte
	headers map[string]string
	limit   *rate.Limiter
}

// BasicAuth reports whether the config has basic-auth users.
func (c *WebConfig) BasicAuth() bool { return c != nil && len(c.users) > 0 }

// LoadWebConfig reads and checks a web config file and the certificate,
// key and CA files it names.
func LoadWebConfig(path string) (*WebConfig, error) {
	b, err := userfile.Read(path, userfile.MaxConfigBytes)
	if err != nil {
		return nil, err
	}
	c := web.Config{
		TLSConfig:  web.TLSConfig{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13},
		HTTPConfig: web.HTTPConfig{HTTP2: true},
	}
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	wc := &WebConfig{users: make(map[string][]byte, len(c.Users)), headers: c.HTTPConfig.Header}
	for user, hash := range c.Users {
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("%s: basic_auth_users %q: not a bcrypt hash: %w", path, user, err)
		}
		wc.users[user] = []byte(hash)
	}
	for k := range wc.headers {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Type", "Content-Encoding", "Content-Length", "Www-Authenticate", "Retry-After", "Connection":
			return nil, fmt.Errorf("%s: http_server_config.headers: %s is set by pinspect", path, k)
		}
	}
	if rl := c.RateLimiterConfig; rl.Interval > 0 {
		wc.limit = rate.NewLimiter(rate.Every(rl.Interval), max(rl.Burst, 1))
	}
	t := &c.TLSConfig
	if !t.IsEnabled() {
		if t.ClientAuth != "" || t.ClientCAs != "" || t.ClientCAsText != "" {
			return nil, fmt.Errorf("%s: client certificates need cert_file and key_file", path)
		}
		return wc, nil
	}
	// Read every named file here, bounded, and hand the contents to
	// exporter-toolkit as inline values: it then reads no file itself.
	dir := filepath.Dir(path)
	inline := func(name string, p *string, dst func(string)) error {
		if *p == "" {
			return nil
		}
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
		b, err := userfile.Read(*p, userfile.MaxPEMBytes)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", path, name, err)
		}
		dst(string(b))
		*p = ""
		return nil
	}
	if err := inline("cert_file", &t.TLSCertPath, func(s string) { t.TLSCert = s }); err != nil {
		return nil, err
	}
	if err := inline("key_file", &t.TLSKeyPath, func(s string) { t.TLSKey = config.Secret(s) }); err != nil {
		return nil, err
	}
	if err := inline("client_ca_file", &t.ClientCAs, func(s string) { t.ClientCAsText = s }); err != nil {
		return nil, err
	}
	cfg, err := web.ConfigToTLSConfig(t)
	if err != nil {
		return nil, fmt.Errorf("%s: tls_server_config: %w", path, err)
	}
	cert, err := tls.X509KeyPair([]byte(t.TLSCert), []byte(t.TLSKey))
	if err != nil {
		return nil, fmt.Errorf("%s: tls_server_config: %w", path, err)
	}
	// One parsed certificate for every handshake (exporter-toolkit's
	// GetCertificate parses the key pair again for each).
	cfg.GetCertificate = nil
	cfg.Certificates = []tls.Certificate{cert}
	if !c.HTTPConfig.HTTP2 {
		cfg.NextProtos = []string{"http/1.1"}
	}
	wc.TLS = cfg
	wc.CertAuth = cfg.ClientCAs != nil && (cfg.ClientAuth == tls.RequireAndVerifyClientCert || cfg.ClientAuth == tls.VerifyClientCertIfGiven)
	return wc, nil
}

// Web holds the current web config of a running server; Reload swaps it.
type Web struct {
	path string
	cur  atomic.Pointer[WebConfig]
	auth *authCache
}

// NewWeb loads the config at path ("" for none: plain HTTP, no
// authentication).
func NewWeb(path string) (*Web, error) {
	w := &Web{path: path, auth: newAuthCache()}
	c := &WebConfig{}
	if path != "" {
		var err error
		if c, err = LoadWebConfig(path); err != nil {
			return nil, err
		}
	}
	w.cur.Store(c)
	return w, nil
}

// Config returns the current config.
func (w *Web) Config() *WebConfig { return w.cur.Load() }

// Reload loads the file again; on an error the current config stays.
// TLS is enabled or disabled at start only: a reload that changes that is
// refused.
func (w *Web) Reload() error {
	if w.path == "" {
		return nil
	}
	c, err := LoadWebConfig(w.path)
	if err != nil {
		return err
	}
	if (c.TLS == nil) != (w.Config().TLS == nil) {
		return errors.New("reload: turning TLS on or off needs a restart")
	}
	w.cur.Store(c)
	w.auth.clear()
	return nil
}

// tlsForClient is the server's GetConfigForClient: every new connection
// takes the current config's certificates.
func (w *Web) tlsForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return w.Config().TLS, nil
}

// authCache remembers credentials bcrypt verified, so a client that
// authenticates on every request (Prometheus does) pays for bcrypt once,
// and limits the failed attempts of each client, so wrong passwords
// cannot burn the CPU (a bcrypt comparison takes tens of milliseconds).
type authCache struct {
	mu     sync.Mutex
	good   map[[32]byte]time.Time // sha256(user, hash, password) -> verified at
	fails  map[string]*rate.Limiter
	bcrypt sync.Mutex // one comparison at a time
}

const (
	// authCacheTTL is how long verified credentials are trusted without
	// bcrypt; a reload (the users may have changed) clears the cache.
	authCacheTTL = 10 * time.Minute
	// maxAuthCache bounds the verified credentials and the clients whose
	// failures are counted.
	maxAuthCache = 1024
	// failBurst failed attempts a client may make at once, then one per
	// failEvery; past that it gets 429 without a comparison.
	failBurst = 5
	failEvery = time.Second
)

func newAuthCache() *authCache {
	return &authCache{good: make(map[[32]byte]time.Time), fails: make(map[string]*rate.Limiter)}
}

func (a *authCache) clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.good)
}

// fakeHash is compared against for an unknown user, so that timing does
// not tell which users exist. It is made on first use, not at start-up:
// every pinspect command (a one-shot ps included) would pay the hashing.
var fakeHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("pinspect-unknown-user"), bcrypt.MinCost)
	return h
})

// check verifies user and pass against c. It returns ok, or limited when
// the client made too many failed attempts (no comparison was made).
func (a *authCache) check(c *WebConfig, client, user, pass string) (ok, limited bool) {
	hash, known := c.users[user]
	key := credKey(user, hash, pass)
	now := time.Now()
	a.mu.Lock()
	if at, hit := a.good[key]; hit && now.Sub(at) < authCacheTTL {
		a.mu.Unlock()
		return true, false
	}
	lim := a.fails[client]
	if lim != nil && lim.Tokens() < 1 {
		a.mu.Unlock()
		return false, true
	}
	a.mu.Unlock()
	if !known {
		hash = fakeHash()
	}
	a.bcrypt.Lock()
	err := bcrypt.CompareHashAndPassword(hash, []byte(pass))
	a.bcrypt.Unlock()
	ok = known && err == nil
	a.mu.Lock()
	defer a.mu.Unlock()
	if ok {
		if len(a.good) >= maxAuthCache {
			clear(a.good)
		}
		a.good[key] = now
		return true, false
	}
	if lim == nil {
		if len(a.fails) >= maxAuthCache {
			clear(a.fails)
		}
		lim = rate.NewLimiter(rate.Every(failEvery), failBurst)
		a.fails[client] = lim
	}
	lim.Allow()
	return false, false
}

// credKey hashes credentials for the cache (the password is not kept).
func credKey(user string, hash []byte, pass string) [32]byte {
	h := sha256.New()
	for _, s := range [][]byte{[]byte(user), hash, []byte(pass)} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{0})
		h.Write(s)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// guard wraps h: the config's headers and rate limit, then who the client
// is (Client, in the request's context). With basic-auth users, a TCP
// request without valid credentials is refused (401; 429 after too many
// failures); a unix-socket peer is known by its credentials instead.
func (w *Web) guard(h http.Handler, st *ServeStats) http.Handler {
	self := selfUID()
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		c := w.Config()
		for k, v := range c.headers {
			rw.Header().Set(k, v)
		}
		if c.limit != nil && !c.limit.Allow() {
			st.rateLimited.Add(1)
			rw.Header().Set("Retry-After", "1")
			httpError(rw, http.StatusTooManyRequests, "rate limit (web config rate_limit)")
			return
		}
		client := Client{Key: clientKeyOf(r)}
		if p, ok := peerOf(r); ok {
			client = Client{Local: true, UID: p.uid, GID: p.gid, Key: uidKey(p.uid), Full: p.uid == 0 || p.uid == self}
		} else {
			if c.CertAuth && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
				client.Full = true
				client.Key = "cert:" + r.TLS.VerifiedChains[0][0].Subject.String()
			}
			if c.BasicAuth() && !client.Full {
				user, pass, given := r.BasicAuth()
				ok, limited := false, false
				if given {
					ok, limited = w.auth.check(c, client.Key, user, pass)
				}
				switch {
				case limited:
					st.authLimited.Add(1)
					rw.Header().Set("Retry-After", strconv.Itoa(int(failEvery/time.Second)))
					httpError(rw, http.StatusTooManyRequests, "too many failed logins")
					return
				case !ok:
					rw.Header().Set("WWW-Authenticate", `Basic realm="pinspect", charset="UTF-8"`)
					httpError(rw, http.StatusUnauthorized, "authentication required")
					return
				}
				client.Full = true
				client.Key = "user:" + user
			}
		}
		h.ServeHTTP(rw, r.WithContext(withClient(r.Context(), client)))
	})
}

// Scheme returns "https" when the config enables TLS, else "http".
func (w *Web) Scheme() string {
	if w.Config().TLS != nil {
		return "https"
	}
	return "http"
}

// selfUID is the agent's effective uid: a unix-socket peer with it could
// read everything the agent reads.
func selfUID() int { return os.Geteuid() }
