package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Objects is S3's figures, measured with aws-sdk-go-v2's S3 client
// (path-style, its default checksums: a CRC32 on every PUT, validated on
// GET) against the node, each beside a baseline taken in the same run on
// the same file system:
//
//   - durable 4 KB PutObject and GetObject from 16 clients, beside the
//     disk's own floor for a durable small write (16 writers each
//     writing a 4 KB file, fsync, rename: what a PUT must at least do)
//     and the echo server at 16 clients (the HTTP floor), and HeadBucket
//     (the front door: SigV4, IAM, routing, no object);
//   - one 256 MB object PUT and GET, beside the disk's sequential write
//     (a 256 MB file written in 256 KB writes and fsynced) and read (the
//     same file read back after its pages were dropped from the cache;
//     the object's file is dropped from the cache the same way before its
//     GET, so both reads come from the disk);
//   - ListObjectsV2 pages of 1,000 keys in the bucket the PUT step filled.
//     A 1,000,000-key bucket takes too long to fill through the API in a
//     bench run (the PUT rate above); internal/s3's BenchmarkList1000
//     fills the metadata store directly with 1,000,000 keys and lists
//     through the real handler (docs/design/object-storage.md).
type Objects struct {
	Clients      int     `json:"clients"`
	EchoRPS      float64 `json:"echo_rps"`
	HeadBucket   float64 `json:"head_bucket_per_s"`
	DiskSmall    float64 `json:"disk_4kb_fsync_rename_per_s"`
	Put4K        float64 `json:"put_4kb_per_s"`
	Get4K        float64 `json:"get_4kb_per_s"`
	PutRatio     float64 `json:"ratio_put_to_disk"`
	GetRatio     float64 `json:"ratio_get_to_echo"`
	Errors       int     `json:"errors"`
	BigMB        int     `json:"big_object_mb"`
	DiskWriteMBs float64 `json:"disk_write_mb_per_s"`
	DiskReadMBs  float64 `json:"disk_read_mb_per_s"`
	PutBigMBs    float64 `json:"put_big_mb_per_s"`
	GetBigMBs    float64 `json:"get_big_mb_per_s"`
	PutBigShare  float64 `json:"put_big_share_of_disk"`
	GetBigShare  float64 `json:"get_big_share_of_disk"`
	ListKeys     int     `json:"list_bucket_keys"`
	List         Latency `json:"list_1000"`
}

const objectClients = 16

// bigObjectMB is the large object's size.
const bigObjectMB = 256

func (r *runner) s3Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       r.region,
		BaseEndpoint: aws.String(r.api),
		Credentials:  credentials.StaticCredentialsProvider{Value: r.creds},
		HTTPClient:   r.hc,
		UsePathStyle: true,
	})
}

// objects measures the S3 figures.
func (r *runner) objects(ctx context.Context, rep *Report, echo string) error {
	d := r.opts.Duration
	ob := &Objects{Clients: objectClients, BigMB: bigObjectMB}
	rep.Objects = ob
	c := r.s3Client()
	const bucket = "bench-objects"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	scratch := filepath.Join(r.dir, "bench-disk")
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return fmt.Errorf("bench scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch) //nolint:errcheck // temporary

	var err error
	r.logf("objects: echo at %d clients for %s", objectClients, d)
	if ob.EchoRPS, _, err = r.measureLoadAt(ctx, objectClients, d, r.post(echo)); err != nil {
		return err
	}
	r.logf("objects: HeadBucket at %d clients for %s", objectClients, d)
	if ob.HeadBucket, _, err = r.measureLoadAt(ctx, objectClients, d, func(ctx context.Context) error {
		_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
		return err
	}); err != nil {
		return err
	}
	small := make([]byte, 4096)
	_, _ = rand.Read(small)
	var files atomic.Int64
	r.logf("objects: disk floor, 4 KB file + fsync + rename from %d writers for %s", objectClients, d)
	if ob.DiskSmall, _, err = r.measureLoadAt(ctx, objectClients, d, func(context.Context) error {
		return durableFile(filepath.Join(scratch, strconv.FormatInt(files.Add(1), 10)), small)
	}); err != nil {
		return err
	}
	var seq atomic.Int64
	r.logf("objects: PutObject (4 KB, durable) from %d clients for %s", objectClients, d)
	var errs int
	if ob.Put4K, errs, err = r.measureLoadAt(ctx, objectClients, d, func(ctx context.Context) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(objectKey(seq.Add(1))),
			Body: bytes.NewReader(small)})
		return err
	}); err != nil {
		return err
	}
	ob.Errors += errs
	written := seq.Load()
	var rd atomic.Int64
	r.logf("objects: GetObject (4 KB) from %d clients for %s", objectClients, d)
	if ob.Get4K, errs, err = r.measureLoadAt(ctx, objectClients, d, func(ctx context.Context) error {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(objectKey(rd.Add(1)%written + 1))})
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, out.Body)
		_ = out.Body.Close()
		if err == nil && n != int64(len(small)) {
			err = fmt.Errorf("get: %d bytes, want %d", n, len(small))
		}
		return err
	}); err != nil {
		return err
	}
	ob.Errors += errs
	ob.PutRatio, ob.GetRatio = ratio(ob.Put4K, ob.DiskSmall), ratio(ob.Get4K, ob.EchoRPS)

	if err := r.listPages(ctx, c, bucket, written, ob); err != nil {
		return err
	}
	if err := os.RemoveAll(scratch); err != nil {
		return fmt.Errorf("clear bench scratch: %w", err)
	}
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return fmt.Errorf("bench scratch directory: %w", err)
	}
	return r.bigObject(ctx, c, bucket, scratch, ob)
}

func objectKey(i int64) string { return fmt.Sprintf("small/%09d", i) }

// measureLoadAt is a warm-up of d/5, then d at c clients: answers per
// second and errors.
func (r *runner) measureLoadAt(ctx context.Context, c int, d time.Duration, do func(context.Context) error) (float64, int, error) {
	if _, err := r.load(ctx, c, d/5, do); err != nil {
		return 0, 0, err
	}
	n, err := r.load(ctx, c, d, do)
	if err != nil {
		return 0, 0, err
	}
	return math.Round(float64(n.ok) / d.Seconds()), n.errs, nil
}

// listPages lists 1,000-key pages from spread-out starting points of the
// keys the PUT step wrote, one at a time.
func (r *runner) listPages(ctx context.Context, c *s3.Client, bucket string, keys int64, ob *Objects) error {
	ob.ListKeys = int(keys)
	n := max(r.opts.Requests/20, 20)
	r.logf("objects: %d ListObjectsV2 pages of 1,000 keys in a bucket of %d keys", n, keys)
	var lat []time.Duration
	for i := range n + n/10 {
		after := objectKey(int64(i) * 7919 % max(keys-1000, 1))
		t0 := time.Now()
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("small/"),
			StartAfter: aws.String(after), MaxKeys: aws.Int32(1000)})
		el := time.Since(t0)
		if err != nil {
			return fmt.Errorf("list objects: %w", err)
		}
		if keys > 2000 && len(out.Contents) != 1000 {
			return fmt.Errorf("list objects after %s: %d keys, want 1000", after, len(out.Contents))
		}
		if i >= n/10 { // the first tenth warms up
			lat = append(lat, el)
		}
	}
	ob.List = latencyOf(lat)
	return nil
}

// bigObject measures the disk's sequential write and read of bigObjectMB
// and then a PUT and a GET of an object of that size.
func (r *runner) bigObject(ctx context.Context, c *s3.Client, bucket, scratch string, ob *Objects) error {
	size := int64(bigObjectMB) << 20
	data := make([]byte, size)
	_, _ = rand.Read(data)
	mbs := func(d time.Duration) float64 { return math.Round(float64(bigObjectMB)/d.Seconds()*10) / 10 }

	r.logf("objects: disk sequential write and read of %d MB", bigObjectMB)
	p := filepath.Join(scratch, "big")
	t0 := time.Now()
	if err := writeSynced(p, data); err != nil {
		return err
	}
	ob.DiskWriteMBs = mbs(time.Since(t0))
	if err := dropCache(p); err != nil {
		return err
	}
	t0 = time.Now()
	if err := readAll(p, size); err != nil {
		return err
	}
	ob.DiskReadMBs = mbs(time.Since(t0))
	_ = os.Remove(p)

	r.logf("objects: PutObject and GetObject of %d MB", bigObjectMB)
	t0 = time.Now()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("big"),
		Body: bytes.NewReader(data)}); err != nil {
		return fmt.Errorf("put %d MB: %w", bigObjectMB, err)
	}
	ob.PutBigMBs = mbs(time.Since(t0))
	data = nil //nolint:ineffassign,wastedassign // let the 256 MB go before the GET
	// The object's file: drop its pages from the cache, as the baseline's.
	if err := dropCacheUnder(filepath.Join(r.dir, "s3", "data"), size); err != nil {
		return err
	}
	t0 = time.Now()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("big")})
	if err != nil {
		return fmt.Errorf("get %d MB: %w", bigObjectMB, err)
	}
	n, err := io.Copy(io.Discard, out.Body)
	_ = out.Body.Close()
	if err != nil {
		return fmt.Errorf("get %d MB: %w", bigObjectMB, err)
	}
	if n != size {
		return fmt.Errorf("get %d MB: %d bytes", bigObjectMB, n)
	}
	ob.GetBigMBs = mbs(time.Since(t0))
	ob.PutBigShare, ob.GetBigShare = ratio(ob.PutBigMBs, ob.DiskWriteMBs), ratio(ob.GetBigMBs, ob.DiskReadMBs)
	return nil
}

// durableFile writes b to p as a PUT must at least: a temporary file,
// fsynced, renamed into place.
func durableFile(p string, b []byte) error {
	f, err := os.OpenFile(p+".tmp", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) // #nosec G304 -- the bench's own scratch
	if err != nil {
		return fmt.Errorf("disk floor: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(p+".tmp", p)
	}
	return err
}

// writeSynced writes data to p in 256 KB writes and fsyncs it.
func writeSynced(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) // #nosec G304 -- the bench's own scratch
	if err != nil {
		return fmt.Errorf("disk write: %w", err)
	}
	for off := 0; off < len(data) && err == nil; off += 256 << 10 {
		_, err = f.Write(data[off:min(off+256<<10, len(data))])
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("disk write: %w", err)
	}
	return nil
}

// readAll reads p in 256 KB reads and checks it has size bytes.
func readAll(p string, size int64) error {
	f, err := os.Open(p) // #nosec G304 -- the bench's own scratch
	if err != nil {
		return fmt.Errorf("disk read: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only
	n, err := io.CopyBuffer(io.Discard, f, make([]byte, 256<<10))
	if err != nil {
		return fmt.Errorf("disk read: %w", err)
	}
	if n != size {
		return fmt.Errorf("disk read: %d bytes, want %d", n, size)
	}
	return nil
}

// dropCacheUnder drops the pages of the files under dir of at least minSize
// bytes (the large object's body).
func dropCacheUnder(dir string, minSize int64) error {
	found := false
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if fi, err := e.Info(); err == nil && fi.Size() >= minSize {
			found = true
			return dropCache(p)
		}
		return nil
	})
	if err == nil && !found {
		err = errors.New("no body file of the large object under " + dir)
	}
	return err
}

func writeObjects(p func(string, ...any), o *Objects) {
	p("OBJECTS (S3, aws-sdk-go-v2)\tclients\tper s\tratio\terrors")
	p("PutObject 4 KB (durable)\t%d\t%.0f\t%.0f%% of the disk floor\t%d", o.Clients, o.Put4K, o.PutRatio*100, o.Errors)
	p("GetObject 4 KB\t%d\t%.0f\t%.0f%% of echo\t", o.Clients, o.Get4K, o.GetRatio*100)
	p("disk floor: 4 KB file, fsync, rename (baseline)\t%d\t%.0f\t\t", o.Clients, o.DiskSmall)
	p("Go HTTP echo (baseline)\t%d\t%.0f\t\t", o.Clients, o.EchoRPS)
	p("HeadBucket (front door floor)\t%d\t%.0f\t%.0f%% of echo\t", o.Clients, o.HeadBucket, ratio(o.HeadBucket, o.EchoRPS)*100)
	p("OBJECTS, one %d MB object\tMB/s\tdisk MB/s\tshare of disk\t", o.BigMB)
	p("PutObject (durable)\t%.1f\t%.1f\t%.0f%%\t", o.PutBigMBs, o.DiskWriteMBs, o.PutBigShare*100)
	p("GetObject (from disk, not cache)\t%.1f\t%.1f\t%.0f%%\t", o.GetBigMBs, o.DiskReadMBs, o.GetBigShare*100)
	p("ListObjectsV2, 1,000-key page, bucket of %d keys\tn %d\tp50 %.2f ms\tp99 %.2f ms\t", o.ListKeys, o.List.N, o.List.P50, o.List.P99)
}
