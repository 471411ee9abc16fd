// Package iam is Nimbus's AWS Identity and Access Management: roles with
// trust policies, users, groups, access keys, inline and managed policies
// (with versions, and a catalogue of the AWS managed policies applications
// attach most), kept on the backbone and watched, so every node sees every
// change; the IAM and STS query APIs over them; and the Authorizer the
// front door asks on every call, which evaluates the caller's policies with
// package policy. Policies are compiled when they change, never per call.
//
// Who may import it: the daemon (wiring, the front door's enforcement), the
// resource providers (AWS::IAM::*) through its API only. It imports store,
// policy, awsapi and auth.
package iam

import (
	"context"
	"crypto/rand"
	_ "embed" // the AWS managed policy catalogue
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/policy"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Tag is a key/value tag of a role, user or policy.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Kinds of principal entity.
const (
	KindRole  = "role"
	KindUser  = "user"
	KindGroup = "group"
)

// Entity is a role, user or group as stored.
type Entity struct {
	Kind        string    `json:"Kind"`
	Name        string    `json:"Name"`
	Path        string    `json:"Path"`
	ID          string    `json:"Id"`
	Created     time.Time `json:"Created"`
	Description string    `json:"Description,omitempty"`
	// AssumeRolePolicy is a role's trust policy (URL-decoded JSON).
	AssumeRolePolicy string `json:"AssumeRolePolicy,omitempty"`
	// MaxSessionDuration of a role, seconds (3600..43200).
	MaxSessionDuration int   `json:"MaxSessionDuration,omitempty"`
	Tags               []Tag `json:"Tags,omitempty"`
	// Inline policies by name.
	Inline map[string]string `json:"Inline,omitempty"`
	// Attached managed policy ARNs, in attachment order.
	Attached []string `json:"Attached,omitempty"`
	// Boundary is the permissions boundary's managed policy ARN.
	Boundary string `json:"Boundary,omitempty"`
	// Groups a user belongs to (names).
	Groups []string `json:"Groups,omitempty"`
}

// Version is one version of a managed policy.
type Version struct {
	ID       string    `json:"Id"`
	Document string    `json:"Document"`
	Created  time.Time `json:"Created"`
}

// ManagedPolicy is a customer managed policy as stored (AWS managed ones
// come from the catalogue).
type ManagedPolicy struct {
	Name        string    `json:"Name"`
	Path        string    `json:"Path"`
	ID          string    `json:"Id"`
	Description string    `json:"Description,omitempty"`
	Created     time.Time `json:"Created"`
	Updated     time.Time `json:"Updated"`
	Default     string    `json:"Default"`
	Versions    []Version `json:"Versions"`
	NextVersion int       `json:"NextVersion"`
	Tags        []Tag     `json:"Tags,omitempty"`
	// AWS is set for the catalogue's AWS managed policies.
	AWS bool   `json:"-"`
	Arn string `json:"-"`
}

// DefaultDocument is the document of the default version.
func (p *ManagedPolicy) DefaultDocument() string {
	for _, v := range p.Versions {
		if v.ID == p.Default {
			return v.Document
		}
	}
	return ""
}

// AccessKey is a user's long-term access key. Its secret is not stored:
// it is derived from the cluster's session key and the key id (see
// auth.Issuer), so the store holds nothing that signs requests.
type AccessKey struct {
	ID      string    `json:"Id"`
	User    string    `json:"User"`
	Status  string    `json:"Status"` // Active or Inactive
	Created time.Time `json:"Created"`
}

// Keys on the backbone: iam.<kind>.<name, base64url>; iam.key.<id>.
const keyPrefix = "iam."

func entityKey(kind, name string) string {
	return keyPrefix + kind + "." + base64.RawURLEncoding.EncodeToString([]byte(name))
}

func policyKey(name string) string {
	return keyPrefix + "policy." + base64.RawURLEncoding.EncodeToString([]byte(name))
}

func accessKeyKey(id string) string { return keyPrefix + "key." + id }

// Options configures a Service.
type Options struct {
	Store     *store.Store
	AccountID string
	Region    string
	Logger    *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service holds the account's IAM state: stored on the backbone, cached
// and compiled in memory, kept current by a watch.
type Service struct {
	opts Options
	log  *slog.Logger
	st   *store.Store

	mu       sync.RWMutex
	entities map[string]*cached   // "<kind>/<name>"
	policies map[string]*cachedMP // by ARN (customer and AWS managed)
	keys     map[string]*AccessKey
	revs     map[string]uint64 // store key -> revision applied
	// writeMu serialises this node's writes (read-modify-write with CAS).
	writeMu sync.Mutex
	// compiled caches documents by their text: the same document
	// (SAM's basic policies, a template used by many functions) compiles
	// once.
	compiled map[string]compiledDoc
	cmu      sync.Mutex

	res  resourceSources
	tags tagSources
	// secretOf derives user access keys' secrets; newKeyID makes their ids.
	secretOf SecretOf
	newKeyID func() string

	watchStop context.CancelFunc
	watchDone chan struct{}
}

type cached struct {
	e      *Entity
	inline []*policy.Policy
	trust  *policy.Policy
}

type cachedMP struct {
	p   *ManagedPolicy
	doc *policy.Policy // default version, compiled
}

type compiledDoc struct {
	p   *policy.Policy
	err error
}

// New loads the account's IAM state from the store and starts watching it.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{opts: opts, log: opts.Logger, st: opts.Store,
		entities: map[string]*cached{}, policies: map[string]*cachedMP{}, keys: map[string]*AccessKey{},
		revs: map[string]uint64{}, compiled: map[string]compiledDoc{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, mp := range awsManaged() {
		s.policies[mp.Arn] = &cachedMP{p: mp, doc: s.compile(mp.DefaultDocument(), policy.Identity)}
	}
	if s.st == nil {
		return s, nil
	}
	wctx, cancel := context.WithCancel(context.Background())
	updates, err := s.st.Watch(wctx, keyPrefix)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch IAM state: %w", err)
	}
	// The watch delivers every current value first; wait for them so the
	// node starts with the whole state.
	keys, err := s.st.Keys(ctx, keyPrefix)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("list IAM state: %w", err)
	}
	for _, k := range keys {
		e, err := s.st.Get(ctx, k)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			cancel()
			return nil, fmt.Errorf("load IAM state %s: %w", k, err)
		}
		s.apply(k, e.Value, e.Revision, false)
	}
	s.watchStop, s.watchDone = cancel, make(chan struct{})
	go func() {
		defer close(s.watchDone)
		for u := range updates {
			s.apply(u.Key, u.Value, u.Revision, u.Deleted)
		}
	}()
	return s, nil
}

// Close stops the watch.
func (s *Service) Close() {
	if s.watchStop != nil {
		s.watchStop()
		<-s.watchDone
	}
}

// compile parses doc once per distinct text and kind.
func (s *Service) compile(doc string, kind policy.Kind) *policy.Policy {
	k := strconv.Itoa(int(kind)) + doc
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if c, ok := s.compiled[k]; ok {
		return c.p
	}
	p, err := policy.Parse([]byte(doc), kind)
	if err != nil {
		s.log.Warn("stored policy does not parse; it grants nothing", "err", err)
	}
	if len(s.compiled) > 4096 { // bounded: drop the cache, it refills
		s.compiled = map[string]compiledDoc{}
	}
	s.compiled[k] = compiledDoc{p: p, err: err}
	return p
}

// apply records one stored value (or its deletion) in the cache, unless
// an equal or newer revision of it is there already.
func (s *Service) apply(key string, val []byte, rev uint64, deleted bool) {
	rest := strings.TrimPrefix(key, keyPrefix)
	kind, _, _ := strings.Cut(rest, ".")
	var (
		ce  *cached
		cmp *cachedMP
		ak  *AccessKey
	)
	if !deleted {
		switch kind {
		case KindRole, KindUser, KindGroup:
			var e Entity
			if json.Unmarshal(val, &e) != nil {
				return
			}
			ce = &cached{e: &e}
			for _, name := range sortedKeys(e.Inline) {
				if p := s.compile(e.Inline[name], policy.Identity); p != nil {
					ce.inline = append(ce.inline, p)
				}
			}
			if e.AssumeRolePolicy != "" {
				ce.trust = s.compile(e.AssumeRolePolicy, policy.Trust)
			}
		case "policy":
			var p ManagedPolicy
			if json.Unmarshal(val, &p) != nil {
				return
			}
			p.Arn = s.policyArn(p.Path, p.Name)
			cmp = &cachedMP{p: &p, doc: s.compile(p.DefaultDocument(), policy.Identity)}
		case "key":
			var k AccessKey
			if json.Unmarshal(val, &k) != nil {
				return
			}
			ak = &k
		default:
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev != 0 && s.revs[key] >= rev {
		return
	}
	s.revs[key] = rev
	switch kind {
	case KindRole, KindUser, KindGroup:
		name := s.nameOf(key)
		if deleted {
			delete(s.entities, kind+"/"+name)
		} else {
			s.entities[kind+"/"+ce.e.Name] = ce
		}
	case "policy":
		if deleted {
			name := s.nameOf(key)
			for arn, c := range s.policies {
				if !c.p.AWS && c.p.Name == name {
					delete(s.policies, arn)
				}
			}
		} else {
			s.policies[cmp.p.Arn] = cmp
		}
	case "key":
		id := strings.TrimPrefix(rest, "key.")
		if deleted {
			delete(s.keys, id)
		} else {
			s.keys[id] = ak
		}
	}
}

func (s *Service) nameOf(key string) string {
	i := strings.LastIndexByte(key, '.')
	b, _ := base64.RawURLEncoding.DecodeString(key[i+1:])
	return string(b)
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ARNs.
func (s *Service) entityArn(kind, path, name string) string {
	return "arn:aws:iam::" + s.opts.AccountID + ":" + kind + path + name
}

func (s *Service) policyArn(path, name string) string {
	return "arn:aws:iam::" + s.opts.AccountID + ":policy" + path + name
}

// newID is an IAM unique id: a 4-letter prefix (AROA roles, AIDA users,
// AGPA groups, ANPA policies) and 17 characters.
func newID(prefix string) string {
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return prefix + base32.StdEncoding.EncodeToString(b)[:17]
}

// update reads key, lets f change the value (nil: the entry does not
// exist; f returning nil deletes), and writes it back with
// compare-and-swap, retrying when another writer came first. The cache is
// updated at once, so the writer's next call sees its own write.
func (s *Service) update(ctx context.Context, key string, f func(cur []byte) ([]byte, error)) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for attempt := 0; ; attempt++ {
		var cur []byte
		var rev uint64
		e, err := s.st.Get(ctx, key)
		switch {
		case err == nil:
			cur, rev = e.Value, e.Revision
		case errors.Is(err, store.ErrNotFound):
		default:
			return err
		}
		next, err := f(cur)
		if err != nil {
			return err
		}
		var newRev uint64
		switch {
		case next == nil && cur == nil:
			return nil
		case next == nil:
			err = s.st.Delete(ctx, key, rev)
		case cur == nil:
			newRev, err = s.st.Create(ctx, key, next)
		default:
			newRev, err = s.st.Update(ctx, key, next, rev)
		}
		if err != nil {
			if (errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists)) && attempt < 5 {
				continue
			}
			return err
		}
		if next == nil {
			s.apply(key, nil, rev+1, true)
		} else {
			s.apply(key, next, newRev, false)
		}
		return nil
	}
}

// updateEntity applies f to the stored entity kind/name. f gets nil when it
// does not exist, and returns the new entity (nil deletes).
func (s *Service) updateEntity(ctx context.Context, kind, name string, f func(*Entity) (*Entity, error)) error {
	return s.update(ctx, entityKey(kind, name), func(cur []byte) ([]byte, error) {
		var e *Entity
		if cur != nil {
			e = &Entity{}
			if err := json.Unmarshal(cur, e); err != nil {
				return nil, err
			}
		}
		n, err := f(e)
		if err != nil || n == nil {
			return nil, err
		}
		return json.Marshal(n)
	})
}

func (s *Service) updatePolicy(ctx context.Context, name string, f func(*ManagedPolicy) (*ManagedPolicy, error)) error {
	return s.update(ctx, policyKey(name), func(cur []byte) ([]byte, error) {
		var p *ManagedPolicy
		if cur != nil {
			p = &ManagedPolicy{}
			if err := json.Unmarshal(cur, p); err != nil {
				return nil, err
			}
		}
		n, err := f(p)
		if err != nil || n == nil {
			return nil, err
		}
		return json.Marshal(n)
	})
}

// entity returns a copy-safe view of kind/name (nil if absent).
func (s *Service) entity(kind, name string) *cached {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.entities[kind+"/"+name]
}

func (s *Service) managed(arn string) *cachedMP {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.policies[arn]
}

// --- the AWS managed policy catalogue ----------------------------------

//go:embed managed_policies.json
var managedPoliciesJSON []byte

var awsManaged = sync.OnceValue(func() []*ManagedPolicy {
	var doc struct {
		Policies []struct {
			PolicyName, Arn, Path, DefaultVersionID string
			CreateDate                              time.Time
			Document                                json.RawMessage
		}
	}
	if err := json.Unmarshal(managedPoliciesJSON, &doc); err != nil {
		panic("iam: embedded managed policies: " + err.Error())
	}
	var out []*ManagedPolicy
	for _, p := range doc.Policies {
		out = append(out, &ManagedPolicy{Name: p.PolicyName, Path: p.Path, Arn: p.Arn, AWS: true,
			ID:      "ANPA" + strings.ToUpper(base32.StdEncoding.EncodeToString([]byte(p.PolicyName)))[:17],
			Created: p.CreateDate, Updated: p.CreateDate, Default: p.DefaultVersionID,
			Versions: []Version{{ID: p.DefaultVersionID, Document: string(p.Document), Created: p.CreateDate}}})
	}
	return out
})
