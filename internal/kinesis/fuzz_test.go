package kinesis

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

// FuzzIterator: any ShardIterator text is refused or decoded, never a
// panic; an explicit hash key outside [0, 2^128-1] is refused.
func FuzzIterator(f *testing.F) {
	signer := &Service{key: make([]byte, 32)}
	f.Add(signer.encodeIterator(iterator{Stream: "s", Shard: 1, Next: 5, At: 1}), "340282366920938463463374607431768211455")
	f.Add("not base64!", "-1")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"s":"x","h":-7,"n":18446744073709551615}`)), "340282366920938463463374607431768211456")
	st := &stream{Shards: []shard{{ID: "a", StartKey: "0", EndKey: "170141183460469231731687303715884105727"},
		{ID: "b", StartKey: "170141183460469231731687303715884105728", EndKey: "340282366920938463463374607431768211455"}}}
	f.Fuzz(func(t *testing.T, tok, hash string) {
		// Only what the key signed decodes; the front door's unchecked
		// view never panics either.
		if it, ok := signer.decodeIterator(tok); ok {
			if back, ok := signer.decodeIterator(signer.encodeIterator(it)); !ok || back != it {
				t.Fatalf("iterator %+v does not round-trip: %+v", it, back)
			}
		}
		parseIterator(tok)
		body, _ := json.Marshal(map[string]string{"ShardIterator": tok})
		_ = Resource("r", "a", body)
		i, err := shardFor(st, tok, &hash)
		if err == nil && (i < 0 || i > 1) {
			t.Fatalf("hash %q: shard %d", hash, i)
		}
		if _, err := shardFor(st, tok, nil); err != nil {
			t.Fatalf("partition key %q: %v", tok, err)
		}
	})
}
