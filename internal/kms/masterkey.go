package kms

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// MasterKeySize is the master key's length: an AES-256 key.
const MasterKeySize = 32

// MasterKeyFile is the master key's file in the data directory (single
// node, without --master-key-file).
const MasterKeyFile = "master.key"

// MasterKeyOptions say where the node's master key comes from, first match
// wins: File (--master-key-file), then a cluster's shared secret, then
// MasterKeyFile in DataDir (created with mode 0600 on first start).
type MasterKeyOptions struct {
	DataDir string
	// File holds the key: 32 raw bytes, 64 hex digits or base64 of 32
	// bytes (surrounding white space ignored).
	File string
	// ClusterSecret and ClusterName, on a cluster, derive the key
	// (HKDF-SHA256), so every node that may join the cluster has it.
	ClusterSecret string
	ClusterName   string
}

// LoadMasterKey returns the node's master key.
func LoadMasterKey(o MasterKeyOptions) ([]byte, error) {
	switch {
	case o.File != "":
		return readKeyFile(o.File, false)
	case o.ClusterSecret != "":
		k, err := hkdf.Key(sha256.New, []byte(o.ClusterSecret), []byte("nimbus cluster "+o.ClusterName),
			"nimbus kms master key v1", MasterKeySize)
		if err != nil {
			return nil, fmt.Errorf("derive master key: %w", err)
		}
		return k, nil
	}
	p := filepath.Join(o.DataDir, MasterKeyFile)
	k, err := readKeyFile(p, true)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k = make([]byte, MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate master key: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won: use its key
			return readKeyFile(p, true)
		}
		return nil, fmt.Errorf("create master key: %w", err)
	}
	if _, err := f.Write([]byte(hex.EncodeToString(k) + "\n")); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write master key: %w", err)
	}
	return k, nil
}

// readKeyFile reads a key file. private: the file must be readable by its
// owner only (the data directory's file); otherwise it must at least not
// be readable by everyone.
func readKeyFile(p string, private bool) ([]byte, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	mode := st.Mode().Perm()
	if private && mode&0o077 != 0 || mode&0o007 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %04o: others may read it; chmod 600 it", p, mode)
	}
	b, err := os.ReadFile(p) //nolint:gosec // G304: the operator names the file
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if len(b) == MasterKeySize {
		return b, nil
	}
	s := bytes.TrimSpace(b)
	if k, err := hex.DecodeString(string(s)); err == nil && len(k) == MasterKeySize {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(string(s)); err == nil && len(k) == MasterKeySize {
		return k, nil
	}
	return nil, fmt.Errorf("master key file %s: want 32 bytes, 64 hex digits or base64 of 32 bytes", p)
}

// checkValue identifies a master key without revealing it: what the
// backbone keeps so that a node with another key refuses to start.
func checkValue(master []byte) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("nimbus master key check v1"))
	return []byte(hex.EncodeToString(m.Sum(nil)))
}

// seal encrypts plaintext with AES-256-GCM under key, binding aad:
// nonce (12 bytes) || ciphertext || tag (16 bytes).
func seal(key, plaintext, aad []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(plaintext)+g.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return g.Seal(nonce, nonce, plaintext, aad), nil
}

// errOpen is a sealed value that does not authenticate.
var errOpen = errors.New("sealed value does not authenticate")

// open reverses seal.
func open(key, sealed, aad []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize()+g.Overhead() {
		return nil, errOpen
	}
	p, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], aad)
	if err != nil {
		return nil, errOpen
	}
	return p, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return g, nil
}
