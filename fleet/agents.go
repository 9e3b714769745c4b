package fleet

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path"
	"strings"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// ValidID says what is wrong with an agent id, if anything. An id is
// shaped like a job name (jobfile.NameShaped): a host name as a container
// gets one, and nothing that could be read as a path or a target
// separator.
func ValidID(id string) error {
	if !jobfile.NameShaped(id) {
		return fmt.Errorf("agent id %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	return nil
}

// AgentRule is one entry of the -fleet-agents file: the agents whose id
// matches ID (a name, or a glob such as "web-*"), whose secret hashes to
// SecretSHA256, and whose address is in AllowedIPs may join.
type AgentRule struct {
	ID           string   `json:"id"`
	SecretSHA256 string   `json:"secret_sha256"`
	AllowedIPs   []string `json:"allowed_ips"`

	secret [sha256.Size]byte
	allow  []netip.Prefix
}

// Rules are the agents allowed to join, in the order of the file: the
// first rule whose id and secret match decides.
type Rules []AgentRule

// LoadRules reads and checks a -fleet-agents file.
func LoadRules(file string) (Rules, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("-fleet-agents: %w", err)
	}
	rules, err := ParseRules(data)
	if err != nil {
		return nil, fmt.Errorf("-fleet-agents %s: %w", file, err)
	}
	return rules, nil
}

// ParseRules parses the JSON of a -fleet-agents file: an array of
// {"id", "secret_sha256", "allowed_ips"}, every key required, no other.
func ParseRules(data []byte) (Rules, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rules Rules
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("want a JSON array of {\"id\", \"secret_sha256\", \"allowed_ips\"}: %w", err)
	}
	if dec.More() {
		return nil, errors.New("data after the JSON array")
	}
	for i := range rules {
		if err := rules[i].check(); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return rules, nil
}

func (r *AgentRule) check() error {
	if r.ID == "" {
		return errors.New(`"id": missing (a name, or a glob such as "web-*")`)
	}
	if _, err := path.Match(r.ID, ""); err != nil {
		return fmt.Errorf(`"id" %q: not a valid glob: %w`, r.ID, err)
	}
	sum, err := hex.DecodeString(r.SecretSHA256)
	if err != nil || len(sum) != sha256.Size {
		return fmt.Errorf(`"secret_sha256" of %q: want 64 hex digits, the SHA-256 of the secret (sha256sum)`, r.ID)
	}
	copy(r.secret[:], sum)
	if len(r.AllowedIPs) == 0 {
		return fmt.Errorf(`"allowed_ips" of %q: missing; list the networks the agent connects from (CIDRs; ["0.0.0.0/0", "::/0"] for anywhere)`, r.ID)
	}
	r.allow = r.allow[:0]
	for _, s := range r.AllowedIPs {
		p, err := parsePrefix(s)
		if err != nil {
			return fmt.Errorf(`"allowed_ips" of %q: %w`, r.ID, err)
		}
		r.allow = append(r.allow, p)
	}
	return nil
}

// parsePrefix reads a CIDR, or a bare address as a one-address network.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or a CIDR", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
	}
	return p.Masked(), nil
}

// Refusal errors of Authenticate.
var (
	// ErrAuth is an unknown id or a wrong secret: the peer is not told
	// which.
	ErrAuth = errors.New("authentication failed")
	// ErrAddress is a known agent with the right secret, connecting from
	// an address its rule does not allow.
	ErrAddress = errors.New("address not allowed")
)

// Authenticate finds the rule that lets agent id with secret join from
// addr. Every rule's secret is compared, in constant time, so that the
// time taken does not tell which ids exist.
func (rs Rules) Authenticate(id, secret string, addr netip.Addr) (*AgentRule, error) {
	sum := sha256.Sum256([]byte(secret))
	var found *AgentRule
	for i := range rs {
		r := &rs[i]
		ok, _ := path.Match(r.ID, id)
		same := subtle.ConstantTimeCompare(sum[:], r.secret[:]) == 1
		if ok && same && found == nil {
			found = r
		}
	}
	if found == nil {
		return nil, ErrAuth
	}
	if !found.Allows(addr) {
		return nil, fmt.Errorf("%w: %s is outside the allowed_ips of %q", ErrAddress, addr, found.ID)
	}
	return found, nil
}

// Allows reports whether addr is in the rule's networks.
func (r *AgentRule) Allows(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range r.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// AnyAllows reports whether some rule allows addr: a connection from
// elsewhere is closed before its TLS handshake costs anything.
func (rs Rules) AnyAllows(addr netip.Addr) bool {
	for i := range rs {
		if rs[i].Allows(addr) {
			return true
		}
	}
	return false
}
