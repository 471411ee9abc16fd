package auth

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Credentials is an access key pair; temporary credentials also carry a
// session token and an expiry.
type Credentials struct {
	AccessKeyID     string    `json:"AccessKeyId"`
	SecretAccessKey string    `json:"SecretAccessKey"`
	SessionToken    string    `json:"SessionToken,omitempty"`
	Expiration      time.Time `json:"Expiration,omitzero"`
}

// Files under the data directory. Dir is private to the owner (0700), every
// file in it 0600.
const (
	Dir            = "auth"
	rootFile       = "root-credentials.json"
	sessionKeyFile = "session.key"
	endpointFile   = "endpoint"
)

// RootPath is where the generated root credentials of dataDir are kept.
func RootPath(dataDir string) string { return filepath.Join(dataDir, Dir, rootFile) }

// NewAccessKeyID returns a fresh access key id with the given 4-letter
// prefix ("AKIA" for long-term keys, "ASIA" for temporary ones, as AWS).
func NewAccessKeyID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)                                  // never fails (crypto/rand)
	return prefix + base32.StdEncoding.EncodeToString(b) // 16 characters of A-Z2-7
}

// GenerateRoot returns new random root credentials.
func GenerateRoot() Credentials {
	s := make([]byte, 30)
	_, _ = rand.Read(s)
	return Credentials{AccessKeyID: NewAccessKeyID("AKIA"), SecretAccessKey: base64.StdEncoding.EncodeToString(s)}
}

// EnsureRoot returns the root credentials of the node using dataDir: given
// when both parts are set (from NIMBUS_ACCESS_KEY_ID /
// NIMBUS_SECRET_ACCESS_KEY or flags, never written to disk), else the ones
// stored in the data directory, else new ones, stored there (0600) —
// created reports that case so the caller can tell the user once.
func EnsureRoot(dataDir string, given Credentials) (c Credentials, created bool, err error) {
	if given.AccessKeyID != "" && given.SecretAccessKey != "" {
		return Credentials{AccessKeyID: given.AccessKeyID, SecretAccessKey: given.SecretAccessKey}, false, nil
	}
	c, err = LoadRoot(dataDir)
	if err == nil {
		return c, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, false, err
	}
	c = GenerateRoot()
	data, _ := json.MarshalIndent(c, "", "  ") //nolint:gosec // G117: storing the credentials is the point (0600 file)
	if err := writePrivate(RootPath(dataDir), append(data, '\n'), true); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race
			c, err = LoadRoot(dataDir)
			return c, false, err
		}
		return Credentials{}, false, fmt.Errorf("store root credentials: %w", err)
	}
	return c, true, nil
}

// LoadRoot reads the root credentials stored in dataDir. It refuses a file
// that others can read.
func LoadRoot(dataDir string) (Credentials, error) {
	p := RootPath(dataDir)
	fi, err := os.Stat(p)
	if err != nil {
		return Credentials{}, fmt.Errorf("read root credentials: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return Credentials{}, fmt.Errorf("root credentials %s are readable by others (mode %s); chmod 600 it", p, fi.Mode().Perm())
	}
	data, err := os.ReadFile(p) //nolint:gosec // path under the configured data directory
	if err != nil {
		return Credentials{}, fmt.Errorf("read root credentials: %w", err)
	}
	var c Credentials
	if err := json.Unmarshal(data, &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Credentials{}, fmt.Errorf("root credentials %s are damaged; delete the file to generate new ones", p)
	}
	return c, nil
}

// WriteEndpoint records the URL a node on dataDir listens on, for
// `nimbus env` and the client commands run on the same machine.
func WriteEndpoint(dataDir, endpoint string) error {
	return writePrivate(filepath.Join(dataDir, Dir, endpointFile), []byte(endpoint+"\n"), false)
}

// ReadEndpoint returns what WriteEndpoint recorded ("" when nothing).
func ReadEndpoint(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, Dir, endpointFile)) //nolint:gosec // under the data directory
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// writePrivate writes data to path through a temporary file (mode 0600, in
// a 0700 directory) and a rename; with exclusive it fails with
// fs.ErrExist if path exists.
func writePrivate(path string, data []byte, exclusive bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restrict %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if exclusive {
		// link fails if path exists: no window where two writers both win.
		if err := os.Link(tmp, path); err != nil {
			return fmt.Errorf("store %s: %w", path, err)
		}
		return nil
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	return nil
}

// SaveRoot replaces the root credentials stored in dataDir (0600): a
// cluster node keeps the cluster's there, so `nimbus env` on its machine
// prints the credentials every node accepts.
func SaveRoot(dataDir string, c Credentials) error {
	data, _ := json.MarshalIndent(c, "", "  ") //nolint:gosec // G117: storing the credentials is the point (0600 file)
	if err := writePrivate(RootPath(dataDir), append(data, '\n'), false); err != nil {
		return fmt.Errorf("store root credentials: %w", err)
	}
	return nil
}
