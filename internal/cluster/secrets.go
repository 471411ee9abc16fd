// Package cluster holds what several Nimbus nodes on one NATS cluster
// share beyond the control-plane state: the secrets every node must agree
// on (root credentials, the session key that signs function credentials)
// and the cluster's status as one node sees it (nodes, meta leader,
// stream replicas and leaders). The daemon imports it; the lease
// primitive is internal/lease. docs/design/cluster.md explains the design.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/auth"
)

// SecretsBucket is the KV bucket of the cluster's shared secrets.
const SecretsBucket = "nimbus_secrets"

const (
	rootKey    = "root"
	sessionKey = "session-key"
)

// SecretsOptions configure ShareSecrets.
type SecretsOptions struct {
	JetStream jetstream.JetStream
	Replicas  int
	// DataDir is the node's data directory: its auth files are offered to
	// the cluster when it has none, and replaced by the cluster's.
	DataDir string
	// Root are root credentials given to this node (environment or
	// flags); they must match the cluster's. Empty: use the cluster's.
	Root auth.Credentials
	// NoRoot skips the root credentials (signature checks are off).
	NoRoot bool
}

// ShareSecrets makes this node use the cluster's secrets. The first node
// to start offers its own (from its data directory, generated there if
// absent) with a create-if-absent write; every later node finds them and
// copies them into its data directory, where the auth package reads them
// and `nimbus env` prints them. Given root credentials that differ from
// the cluster's are an error: two roots would make a node refuse what the
// others accept. created reports that this node generated the root
// credentials the cluster now uses (so the user should be told once).
func ShareSecrets(ctx context.Context, o SecretsOptions) (created bool, err error) {
	kv, err := o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      SecretsBucket,
		Description: "Nimbus cluster secrets (root credentials, session key)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(o.Replicas, 1),
	})
	if err != nil {
		return false, fmt.Errorf("cluster secrets: bucket %s: %w", SecretsBucket, err)
	}
	if !o.NoRoot {
		if created, err = shareRoot(ctx, kv, o); err != nil {
			return false, err
		}
	}
	local, err := auth.LoadOrCreateSessionKey(o.DataDir)
	if err != nil {
		return false, fmt.Errorf("cluster secrets: %w", err)
	}
	key, _, err := agree(ctx, kv, sessionKey, local)
	if err != nil {
		return false, err
	}
	if !bytes.Equal(key, local) {
		if err := auth.SaveSessionKey(o.DataDir, key); err != nil {
			return false, fmt.Errorf("cluster secrets: %w", err)
		}
	}
	return created, nil
}

func shareRoot(ctx context.Context, kv jetstream.KeyValue, o SecretsOptions) (bool, error) {
	given := o.Root.AccessKeyID != "" && o.Root.SecretAccessKey != ""
	offer, generated := o.Root, false
	if !given {
		c, err := auth.LoadRoot(o.DataDir)
		switch {
		case err == nil:
			offer = c
		case errors.Is(err, fs.ErrNotExist):
			offer, generated = auth.GenerateRoot(), true
		default:
			return false, fmt.Errorf("cluster secrets: %w", err)
		}
	}
	data, err := json.Marshal(offer) //nolint:gosec // G117: sharing the credentials is the point
	if err != nil {
		return false, fmt.Errorf("cluster secrets: %w", err)
	}
	got, won, err := agree(ctx, kv, rootKey, data)
	if err != nil {
		return false, err
	}
	var cluster auth.Credentials
	if err := json.Unmarshal(got, &cluster); err != nil || cluster.AccessKeyID == "" || cluster.SecretAccessKey == "" {
		return false, fmt.Errorf("cluster secrets: the cluster's root credentials in %s are damaged", SecretsBucket)
	}
	if given {
		if cluster != o.Root {
			return false, fmt.Errorf("cluster secrets: the root credentials given to this node (access key %s) differ from the cluster's (%s): give every node the same, or none", o.Root.AccessKeyID, cluster.AccessKeyID)
		}
		return false, nil // given credentials are never written to disk
	}
	if generated || cluster != offer {
		if err := auth.SaveRoot(o.DataDir, cluster); err != nil {
			return false, fmt.Errorf("cluster secrets: %w", err)
		}
	}
	return won && generated, nil
}

// agree stores offer under key unless the cluster has a value already,
// and returns the cluster's value; won reports that offer was stored. A
// replica that has not yet received the value answers "not found" to a
// read (reads go to any replica), so reads are retried for a while.
func agree(ctx context.Context, kv jetstream.KeyValue, key string, offer []byte) (val []byte, won bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if _, err := kv.Create(ctx, key, offer); err == nil {
			return offer, true, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, false, fmt.Errorf("cluster secrets: store %s: %w", key, err)
		}
		e, err := kv.Get(ctx, key)
		if err == nil {
			return e.Value(), false, nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, false, fmt.Errorf("cluster secrets: read %s: %w", key, err)
		}
		select { // deleted in between, or this replica is behind: again
		case <-ctx.Done():
			return nil, false, fmt.Errorf("cluster secrets: %s neither stored nor readable: %w", key, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
