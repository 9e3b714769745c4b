package fleet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The files of a generated certificate, in the directory given to
// ManagerCertificate (the state directory's fleet/).
const (
	CertFile = "manager.crt"
	KeyFile  = "manager.key"
)

// certValidity is how long a generated certificate is valid.
const certValidity = 10 * 365 * 24 * time.Hour

// Fingerprint is the SHA-256 of a certificate's DER bytes as the flags
// take and the logs print it: "sha256:" and lowercase hex.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseFingerprint checks a pinned fingerprint and returns it in the form
// Fingerprint gives. It accepts "sha256:" followed by 64 hex digits, and,
// for a fingerprint copied from openssl, colons between the bytes, upper
// case, and the line `openssl x509 -noout -fingerprint -sha256` prints
// ("sha256 Fingerprint=HEX", "SHA256 Fingerprint=HEX" before OpenSSL 3).
// A bare hex string is refused: it does not say which hash it is.
func ParseFingerprint(s string) (string, error) {
	hexPart, ok := "", false
	for _, prefix := range []string{"sha256:", "SHA256:", "sha256 Fingerprint=", "SHA256 Fingerprint="} {
		if hexPart, ok = strings.CutPrefix(strings.TrimSpace(s), prefix); ok {
			break
		}
	}
	b, err := hex.DecodeString(strings.ReplaceAll(hexPart, ":", ""))
	if !ok || err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("fingerprint %q: want sha256: and 64 hex digits, as the manager prints it", s)
	}
	return "sha256:" + hex.EncodeToString(b), nil
}

// ManagerCertificate returns the manager's certificate: from certFile and
// keyFile when given, else the one generated in dir on a first start and
// kept there (CertFile, KeyFile), generated now if there is none. names
// are the host names and addresses the generated certificate is valid for,
// beside localhost and the loopback addresses.
func ManagerCertificate(certFile, keyFile, dir string, names []string) (tls.Certificate, error) {
	switch {
	case certFile != "" || keyFile != "":
		if certFile == "" || keyFile == "" {
			return tls.Certificate{}, errors.New("-fleet-cert and -fleet-key go together")
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("fleet certificate: %w", err)
		}
		return cert, nil
	case dir == "":
		return tls.Certificate{}, errors.New("the fleet manager needs a certificate: -fleet-cert and -fleet-key, or a -state directory to keep a generated one in")
	}
	if err := checkPrivate(dir); err != nil {
		return tls.Certificate{}, err
	}
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	_, cerr := os.Stat(certPath)
	_, kerr := os.Stat(keyPath)
	switch {
	case cerr == nil && kerr == nil:
		if err := checkKeyFile(keyPath); err != nil {
			return tls.Certificate{}, err
		}
		cert, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("fleet certificate in %s: %w (remove both files to generate new ones)", dir, err)
		}
		return cert, nil
	case errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist):
		return generateCertificate(dir, names)
	case cerr != nil && !errors.Is(cerr, fs.ErrNotExist):
		return tls.Certificate{}, fmt.Errorf("fleet certificate: %w", cerr)
	case kerr != nil && !errors.Is(kerr, fs.ErrNotExist):
		return tls.Certificate{}, fmt.Errorf("fleet key: %w", kerr)
	}
	return tls.Certificate{}, fmt.Errorf("fleet certificate in %s: one of %s and %s is missing (remove the other to generate both)", dir, CertFile, KeyFile)
}

// checkPrivate makes dir, the state directory's fleet/, if it is missing,
// and refuses it, or the state directory it is in, when it belongs to
// another user or others may write to it: whoever can put a key and a
// certificate there (or swap the directory) is the manager to every agent
// that pins that certificate, and reads what they say. Taskmasterd as PID
// 1 does not otherwise check the state directory (pgstate does, when it
// uses it).
func checkPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("fleet certificate: %w", err)
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("fleet certificate: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		switch {
		case ok && int(st.Uid) != os.Geteuid():
			return fmt.Errorf("fleet certificate: %s belongs to uid %d, not to taskmasterd's uid %d: another user could replace the manager's key", d, st.Uid, os.Geteuid())
		case fi.Mode().Perm()&0o022 != 0:
			return fmt.Errorf("fleet certificate: others may write to %s (mode %#o): another user could replace the manager's key; chmod go-w it", d, fi.Mode().Perm())
		}
	}
	return nil
}

// checkKeyFile refuses a generated key that others may read, or that is
// not taskmasterd's user's.
func checkKeyFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("fleet key: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("fleet key: %s is not a regular file", path)
	case ok && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("fleet key: %s belongs to uid %d, not to taskmasterd's uid %d", path, st.Uid, os.Geteuid())
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("fleet key: others may read %s (mode %#o): chmod 600 it", path, fi.Mode().Perm())
	}
	return nil
}

// generateCertificate makes a self-signed certificate (its own CA, so that
// agents may also trust it with -fleet-ca) and writes it and its key into
// dir, the key readable by its owner only.
func generateCertificate(dir string, names []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "taskmasterd fleet manager " + host},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	addName(tmpl, "localhost")
	addName(tmpl, "127.0.0.1")
	addName(tmpl, "::1")
	addName(tmpl, host)
	for _, n := range names {
		addName(tmpl, n)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return tls.Certificate{}, fmt.Errorf("fleet certificate: %w", err)
	}
	// The key first: a certificate without its key would be an error at
	// the next start, a key without its certificate is written again.
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := writeFileAtomic(filepath.Join(dir, KeyFile), keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeFileAtomic(filepath.Join(dir, CertFile), certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// addName adds a host name or an IP address to the certificate, once.
func addName(c *x509.Certificate, name string) {
	name = strings.TrimSpace(name)
	if name == "" {
		return
	}
	if ip := net.ParseIP(name); ip != nil {
		for _, have := range c.IPAddresses {
			if have.Equal(ip) {
				return
			}
		}
		c.IPAddresses = append(c.IPAddresses, ip)
		return
	}
	for _, have := range c.DNSNames {
		if strings.EqualFold(have, name) {
			return
		}
	}
	c.DNSNames = append(c.DNSNames, name)
}

// Trust is how an agent checks the manager's certificate: exactly one of
// CAFile and Fingerprint, or Insecure.
type Trust struct {
	CAFile      string // PEM certificates of the CAs that may sign the manager's
	Fingerprint string // the manager's certificate itself, pinned (ParseFingerprint's form)
	Insecure    bool   // check nothing: anyone on the path can impersonate the manager
}

// Check says what is wrong with t, if anything.
func (t Trust) Check() error {
	switch {
	case t.Insecure && (t.CAFile != "" || t.Fingerprint != ""):
		return errors.New("-fleet-insecure with -fleet-ca or -fleet-fingerprint: choose one")
	case t.CAFile != "" && t.Fingerprint != "":
		return errors.New("-fleet-ca and -fleet-fingerprint: choose one")
	case !t.Insecure && t.CAFile == "" && t.Fingerprint == "":
		return errors.New("-join needs a way to check the manager's certificate: -fleet-fingerprint sha256:... (the manager prints it) or -fleet-ca FILE; -fleet-insecure checks nothing")
	}
	if t.Fingerprint != "" {
		_, err := ParseFingerprint(t.Fingerprint)
		return err
	}
	return nil
}

// clientConfig is the TLS configuration of one connection attempt to
// serverName. The CA file is read at each attempt: in a compose project
// the manager may write it after the agents start.
func (t Trust) clientConfig(serverName string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}
	switch {
	case t.Fingerprint != "":
		pin, err := ParseFingerprint(t.Fingerprint)
		if err != nil {
			return nil, err
		}
		// The pin replaces the chain and name checks: it names the very
		// certificate, which is stronger than both.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the manager sent no certificate")
			}
			if got := Fingerprint(cs.PeerCertificates[0].Raw); got != pin {
				return fmt.Errorf("the manager's certificate is %s, not the pinned %s", got, pin)
			}
			return nil
		}
	case t.CAFile != "":
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("-fleet-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-fleet-ca %s: no PEM certificate in it", t.CAFile)
		}
		cfg.RootCAs = pool
	case t.Insecure:
		cfg.InsecureSkipVerify = true
	}
	return cfg, nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, fsynced, renamed over path, and the directory fsynced, so
// that a crash leaves the old file or the new one, never a part.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
