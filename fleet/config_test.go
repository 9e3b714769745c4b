package fleet

import (
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRules(t *testing.T) {
	good := `[{"id":"web-*","secret_sha256":"` + sum("s") + `","allowed_ips":["172.16.0.0/12","10.0.0.1"]}]`
	rules, err := ParseRules([]byte(good))
	require.NoError(t, err)
	_, err = rules.Authenticate("web-3", "s", netip.MustParseAddr("172.20.0.5"))
	require.NoError(t, err)
	_, err = rules.Authenticate("web-3", "s", netip.MustParseAddr("10.0.0.1"))
	require.NoError(t, err)
	_, err = rules.Authenticate("web-3", "s", netip.MustParseAddr("::ffff:10.0.0.1"))
	require.NoError(t, err, "an IPv4-mapped address is the IPv4 one")
	_, err = rules.Authenticate("web-3", "s", netip.MustParseAddr("10.0.0.2"))
	require.ErrorIs(t, err, ErrAddress)
	_, err = rules.Authenticate("db-1", "s", netip.MustParseAddr("10.0.0.1"))
	require.ErrorIs(t, err, ErrAuth)
	_, err = rules.Authenticate("web-1", "t", netip.MustParseAddr("10.0.0.1"))
	require.ErrorIs(t, err, ErrAuth)
	assert.True(t, rules.AnyAllows(netip.MustParseAddr("172.31.255.255")))
	assert.False(t, rules.AnyAllows(netip.MustParseAddr("192.168.1.1")))

	bad := []struct{ name, json, want string }{
		{"not an array", `{}`, "want a JSON array"},
		{"unknown key", `[{"id":"a","secret":"x"}]`, `unknown field "secret"`},
		{"no id", `[{"secret_sha256":"` + sum("s") + `","allowed_ips":["::/0"]}]`, `entry 0: "id": missing`},
		{"bad glob", `[{"id":"[","secret_sha256":"` + sum("s") + `","allowed_ips":["::/0"]}]`, "not a valid glob"},
		{"short hash", `[{"id":"a","secret_sha256":"abcd","allowed_ips":["::/0"]}]`, "want 64 hex digits"},
		{"no networks", `[{"id":"a","secret_sha256":"` + sum("s") + `"}]`, `"allowed_ips" of "a": missing`},
		{"bad network", `[{"id":"a","secret_sha256":"` + sum("s") + `","allowed_ips":["10.0.0.0/33"]}]`, `"10.0.0.0/33" is not a CIDR`},
		{"trailing data", `[] []`, "data after the JSON array"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules([]byte(tt.json))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestLoadRulesNamesTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agents.json")
	require.NoError(t, os.WriteFile(file, []byte(`[{"id":"a"}]`), 0o600))
	_, err := LoadRules(file)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-fleet-agents "+file+": entry 0")
}

func TestValidID(t *testing.T) {
	for _, ok := range []string{"web-1", "a", "3f2a9c0d1e2b", "db.internal_2"} {
		assert.NoError(t, ValidID(ok), ok)
	}
	for _, bad := range []string{"", "a/b", "-a", "a b", "../x", string(make([]byte, 65))} {
		assert.Error(t, ValidID(bad), bad)
	}
}

func TestCertificateIsGeneratedOnceAndKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fleet")
	cert, err := ManagerCertificate("", "", dir, []string{"manager", "10.1.2.3"})
	require.NoError(t, err)
	key, err := os.Stat(filepath.Join(dir, KeyFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), key.Mode().Perm(), "the key is its owner's only")
	crt, err := os.Stat(filepath.Join(dir, CertFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), crt.Mode().Perm())

	leaf := cert.Leaf
	assert.Contains(t, leaf.DNSNames, "manager")
	assert.Contains(t, leaf.DNSNames, "localhost")
	assert.True(t, leaf.IsCA, "it can be its own -fleet-ca")
	require.NoError(t, leaf.VerifyHostname("10.1.2.3"))
	assert.True(t, leaf.NotAfter.After(time.Now().Add(9*365*24*time.Hour)))

	again, err := ManagerCertificate("", "", dir, nil)
	require.NoError(t, err)
	assert.Equal(t, Fingerprint(leaf.Raw), Fingerprint(again.Leaf.Raw), "the second start keeps it")

	// The fingerprint is the SHA-256 of the DER bytes in the PEM file.
	pemBytes, err := os.ReadFile(filepath.Join(dir, CertFile))
	require.NoError(t, err)
	block, _ := pem.Decode(pemBytes)
	parsed, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	assert.Equal(t, Fingerprint(parsed.Raw), Fingerprint(leaf.Raw))
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, Fingerprint(leaf.Raw))

	// Half a pair is an error that says what to do.
	require.NoError(t, os.Remove(filepath.Join(dir, KeyFile)))
	_, err = ManagerCertificate("", "", dir, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "remove the other to generate both")

	_, err = ManagerCertificate("", "", "", nil)
	assert.ErrorContains(t, err, "-fleet-cert and -fleet-key, or a -state directory")
	_, err = ManagerCertificate("x.crt", "", "", nil)
	assert.ErrorContains(t, err, "go together")
}

func TestParseFingerprint(t *testing.T) {
	hex := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	colons := "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF"
	for _, in := range []string{"sha256:" + hex, "SHA256:" + hex, "sha256:" + colons,
		// openssl x509 -noout -fingerprint -sha256, as OpenSSL 3 and 1.1 print it
		"sha256 Fingerprint=" + colons, "SHA256 Fingerprint=" + colons + "\n"} {
		got, err := ParseFingerprint(in)
		require.NoError(t, err, in)
		assert.Equal(t, "sha256:"+hex, got)
	}
	for _, bad := range []string{hex, colons, "sha256:abc", "md5:" + hex, "sha256:" + hex + "00",
		"sha1 Fingerprint=" + colons, "Fingerprint=" + colons} {
		_, err := ParseFingerprint(bad)
		assert.Error(t, err, bad)
	}
}

func TestTrustCheck(t *testing.T) {
	assert.ErrorContains(t, Trust{}.Check(), "-fleet-fingerprint")
	assert.ErrorContains(t, Trust{CAFile: "x", Fingerprint: "y"}.Check(), "choose one")
	assert.ErrorContains(t, Trust{Insecure: true, CAFile: "x"}.Check(), "choose one")
	assert.NoError(t, Trust{Insecure: true}.Check())
	assert.NoError(t, Trust{CAFile: "x"}.Check())
	assert.Error(t, Trust{Fingerprint: "sha256:00"}.Check())
}

func TestBackoff(t *testing.T) {
	b := &backoff{min: time.Second, max: 30 * time.Second}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i, w := range want {
		d := b.next()
		full := w * time.Second
		assert.GreaterOrEqual(t, d, full/2, "attempt %d", i)
		assert.LessOrEqual(t, d, full, "attempt %d", i)
	}
	for range 100 { // no overflow, however long it goes on
		d := b.next()
		assert.LessOrEqual(t, d, 30*time.Second)
		assert.GreaterOrEqual(t, d, 15*time.Second)
	}
	b.reset()
	assert.LessOrEqual(t, b.next(), time.Second)
}

func TestJoinAddress(t *testing.T) {
	for in, want := range map[string]string{"manager": "manager:7790", "manager:9000": "manager:9000", "10.0.0.1": "10.0.0.1:7790", "::1": "[::1]:7790", "[::1]:5": "[::1]:5"} {
		got, err := JoinAddress(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	_, err := JoinAddress("")
	assert.Error(t, err)
}

// The generated key lives where only taskmasterd's user can reach it: a
// directory others may write to (a -state under /tmp, made by someone
// else), or a key others may read, is refused with what to do.
func TestCertificateDirectoryMustBePrivate(t *testing.T) {
	t.Run("state directory writable by others", func(t *testing.T) {
		state := t.TempDir()
		require.NoError(t, os.Chmod(state, 0o777))
		_, err := ManagerCertificate("", "", filepath.Join(state, "fleet"), nil)
		assert.ErrorContains(t, err, "others may write to "+state)
	})
	t.Run("fleet directory writable by others", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "fleet")
		require.NoError(t, os.Mkdir(dir, 0o755))
		require.NoError(t, os.Chmod(dir, 0o777))
		_, err := ManagerCertificate("", "", dir, nil)
		assert.ErrorContains(t, err, "others may write to "+dir)
	})
	t.Run("fleet directory of another user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give the directory away")
		}
		dir := filepath.Join(t.TempDir(), "fleet")
		require.NoError(t, os.Mkdir(dir, 0o755))
		require.NoError(t, os.Chown(dir, 65534, 65534))
		_, err := ManagerCertificate("", "", dir, nil)
		assert.ErrorContains(t, err, "belongs to uid 65534")
	})
	t.Run("key readable by others", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "fleet")
		_, err := ManagerCertificate("", "", dir, nil)
		require.NoError(t, err)
		require.NoError(t, os.Chmod(filepath.Join(dir, KeyFile), 0o644))
		_, err = ManagerCertificate("", "", dir, nil)
		assert.ErrorContains(t, err, "chmod 600")
	})
}
