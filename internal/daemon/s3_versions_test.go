package daemon

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestS3Versioning drives versioning with aws-sdk-go-v2: version ids on
// Put/Get/Head/Delete, a delete marker that hides the key while every
// version stays readable by id (the attack: a versioned delete must not
// lose the previous version), ListObjectVersions, removing the marker to
// restore the object, deleting a version for good, suspension's "null"
// version, and a bucket that cannot be deleted while versions remain.
func TestS3Versioning(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.s3Client()
	ctx := context.Background()
	b := aws.String("docs")
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	put := func(key, body string) *awss3.PutObjectOutput {
		t.Helper()
		out, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: aws.String(key), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	get := func(key, vid string) (string, error) {
		in := &awss3.GetObjectInput{Bucket: b, Key: aws.String(key)}
		if vid != "" {
			in.VersionId = aws.String(vid)
		}
		out, err := c.GetObject(ctx, in)
		if err != nil {
			return "", err
		}
		defer out.Body.Close()
		data, err := io.ReadAll(out.Body)
		return string(data), err
	}
	if v := put("plan.txt", "v0"); v.VersionId != nil {
		t.Errorf("unversioned PUT answered version %q", aws.ToString(v.VersionId))
	}
	if gv, err := c.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: b}); err != nil || gv.Status != "" {
		t.Fatalf("GetBucketVersioning before: %+v %v", gv, err)
	}
	if _, err := c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if gv, err := c.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: b}); err != nil || gv.Status != s3types.BucketVersioningStatusEnabled {
		t.Fatalf("GetBucketVersioning: %+v %v", gv, err)
	}
	v1 := aws.ToString(put("plan.txt", "v1").VersionId)
	v2 := aws.ToString(put("plan.txt", "v2").VersionId)
	if v1 == "" || v2 == "" || v1 == v2 || v1 == "null" {
		t.Fatalf("version ids %q %q", v1, v2)
	}
	if got, err := get("plan.txt", ""); err != nil || got != "v2" {
		t.Errorf("current = %q %v", got, err)
	}
	head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: b, Key: aws.String("plan.txt"), VersionId: aws.String(v1)})
	if err != nil || aws.ToString(head.VersionId) != v1 || aws.ToInt64(head.ContentLength) != 2 {
		t.Errorf("HeadObject v1: %+v %v", head, err)
	}

	del, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: aws.String("plan.txt")})
	if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) == "" {
		t.Fatalf("versioned DeleteObject: %+v %v", del, err)
	}
	marker := aws.ToString(del.VersionId)
	if _, err := get("plan.txt", ""); apiCode(err) != "NoSuchKey" {
		t.Errorf("GET behind a delete marker: %v", err)
	}
	for vid, want := range map[string]string{"null": "v0", v1: "v1", v2: "v2"} {
		if got, err := get("plan.txt", vid); err != nil || got != want {
			t.Errorf("version %s after the delete = %q %v, want %q", vid, got, err, want)
		}
	}
	if _, err := get("plan.txt", marker); apiCode(err) != "MethodNotAllowed" {
		t.Errorf("GET of the delete marker: %v", err)
	}
	if _, err := get("plan.txt", "0123456789abcdef0123456789abcdef"); apiCode(err) != "NoSuchVersion" {
		t.Errorf("GET of an unknown version: %v", err)
	}
	if _, err := get("plan.txt", "../../etc"); apiCode(err) != "InvalidArgument" {
		t.Errorf("GET of a malformed version id: %v", err)
	}

	put("other.txt", "o")
	lv, err := c.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: b})
	if err != nil || len(lv.Versions) != 4 || len(lv.DeleteMarkers) != 1 {
		t.Fatalf("ListObjectVersions: %+v %v", lv, err)
	}
	if dm := lv.DeleteMarkers[0]; aws.ToString(dm.VersionId) != marker || !aws.ToBool(dm.IsLatest) {
		t.Errorf("delete marker entry %+v", dm)
	}
	var ids []string
	for _, v := range lv.Versions {
		ids = append(ids, aws.ToString(v.Key)+"@"+aws.ToString(v.VersionId))
	}
	if got, want := strings.Join(ids, " "), "other.txt@"+aws.ToString(lv.Versions[0].VersionId)+" plan.txt@"+v2+" plan.txt@"+v1+" plan.txt@null"; got != want {
		t.Errorf("versions %s, want %s", got, want)
	}
	page, err := c.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: b, MaxKeys: aws.Int32(2), KeyMarker: aws.String("other.txt")})
	if err != nil || !aws.ToBool(page.IsTruncated) || aws.ToString(page.NextKeyMarker) != "plan.txt" || aws.ToString(page.NextVersionIdMarker) != v2 {
		t.Errorf("ListObjectVersions page: %+v %v", page, err)
	}

	// Removing the marker restores the object; deleting v2 for good makes
	// v1 current.
	if d, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: aws.String("plan.txt"), VersionId: aws.String(marker)}); err != nil ||
		!aws.ToBool(d.DeleteMarker) || aws.ToString(d.VersionId) != marker {
		t.Fatalf("delete the marker: %+v %v", d, err)
	}
	if got, err := get("plan.txt", ""); err != nil || got != "v2" {
		t.Errorf("after removing the marker = %q %v", got, err)
	}
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: aws.String("plan.txt"), VersionId: aws.String(v2)}); err != nil {
		t.Fatal(err)
	}
	if got, err := get("plan.txt", ""); err != nil || got != "v1" {
		t.Errorf("after deleting v2 = %q %v", got, err)
	}
	if _, err := get("plan.txt", v2); apiCode(err) != "NoSuchVersion" {
		t.Errorf("deleted version: %v", err)
	}

	// Suspended: writes replace the "null" version only.
	if _, err := c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended}}); err != nil {
		t.Fatal(err)
	}
	if v := put("plan.txt", "s1"); aws.ToString(v.VersionId) != "null" {
		t.Errorf("suspended PUT version %q", aws.ToString(v.VersionId))
	}
	if got, err := get("plan.txt", v1); err != nil || got != "v1" {
		t.Errorf("v1 after a suspended PUT = %q %v", got, err)
	}
	if got, err := get("plan.txt", "null"); err != nil || got != "s1" {
		t.Errorf("null version = %q %v", got, err)
	}

	// DeleteObjects with version ids; the bucket is not empty while
	// versions remain.
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: aws.String("other.txt")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: b}); apiCode(err) != "BucketNotEmpty" {
		t.Errorf("DeleteBucket with versions left: %v", err)
	}
	all, err := c.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	var objs []s3types.ObjectIdentifier
	for _, v := range all.Versions {
		objs = append(objs, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
	}
	for _, m := range all.DeleteMarkers {
		objs = append(objs, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
	}
	dout, err := c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: b, Delete: &s3types.Delete{Objects: objs}})
	if err != nil || len(dout.Errors) != 0 || len(dout.Deleted) != len(objs) {
		t.Fatalf("DeleteObjects of every version: %+v %v", dout, err)
	}
	if _, err := c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Errorf("DeleteBucket once empty: %v", err)
	}
}

// TestS3BucketVersioningFromTemplate: AWS::S3::Bucket's
// VersioningConfiguration turns versioning on, and an update suspends it;
// its LifecycleConfiguration becomes the bucket's rules (read back with
// aws-sdk-go-v2, then deleted); OwnershipControls and AccessControl are
// the bucket's, and a public AccessControl on AWS's default ownership
// fails the stack as it fails on AWS.
func TestS3BucketVersioningFromTemplate(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.cfn()
	ctx := t.Context()
	tmpl := func(status string) *string {
		ownership := "      OwnershipControls: {Rules: [{ObjectOwnership: ObjectWriter}]}\n      AccessControl: BucketOwnerRead\n"
		if status != "Enabled" {
			ownership = "      OwnershipControls: {Rules: [{ObjectOwnership: BucketOwnerEnforced}]}\n"
		}
		return aws.String("Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: versioned-from-cfn\n" + ownership +
			"      VersioningConfiguration:\n        Status: " + status + "\n" +
			"      LifecycleConfiguration:\n        Rules:\n          - Id: tmp\n            Prefix: tmp/\n            Status: Enabled\n" +
			"            ExpirationInDays: 7\n            NoncurrentVersionExpiration:\n              NoncurrentDays: 30\n" +
			"          - Id: tagged\n            Status: Enabled\n            TagFilters: [{Key: class, Value: scratch}]\n" +
			"            ExpirationInDays: 1\n          - Id: uploads\n            Status: Enabled\n" +
			"            AbortIncompleteMultipartUpload: {DaysAfterInitiation: 2}\n" +
			"Outputs:\n  Name:\n    Value: !Ref B\n")
	}
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("v"), TemplateBody: tmpl("Enabled")}); err != nil {
		t.Fatal(err)
	}
	if st := waitStack(t, c, "v"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("create: %s %s", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	sc := n.s3Client()
	if gv, err := sc.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String("versioned-from-cfn")}); err != nil ||
		gv.Status != s3types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning after create: %+v %v", gv, err)
	}
	lc, err := sc.GetBucketLifecycleConfiguration(ctx, &awss3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("versioned-from-cfn")})
	if err != nil || len(lc.Rules) != 3 || aws.ToInt32(lc.Rules[0].Expiration.Days) != 7 || aws.ToString(lc.Rules[0].Filter.Prefix) != "tmp/" ||
		aws.ToInt32(lc.Rules[0].NoncurrentVersionExpiration.NoncurrentDays) != 30 || aws.ToString(lc.Rules[1].Filter.Tag.Key) != "class" ||
		aws.ToInt32(lc.Rules[2].AbortIncompleteMultipartUpload.DaysAfterInitiation) != 2 {
		t.Fatalf("lifecycle after create: %+v %v", lc, err)
	}
	ownership := func() s3types.ObjectOwnership {
		oc, err := sc.GetBucketOwnershipControls(ctx, &awss3.GetBucketOwnershipControlsInput{Bucket: aws.String("versioned-from-cfn")})
		if err != nil || len(oc.OwnershipControls.Rules) != 1 {
			t.Fatalf("GetBucketOwnershipControls: %+v %v", oc, err)
		}
		return oc.OwnershipControls.Rules[0].ObjectOwnership
	}
	if o := ownership(); o != s3types.ObjectOwnershipObjectWriter {
		t.Errorf("ownership after create: %s", o)
	}
	if _, err := c.UpdateStack(ctx, &cloudformation.UpdateStackInput{StackName: aws.String("v"), TemplateBody: tmpl("Suspended")}); err != nil {
		t.Fatal(err)
	}
	if st := waitStack(t, c, "v"); st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("update: %s %s", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if gv, err := sc.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String("versioned-from-cfn")}); err != nil ||
		gv.Status != s3types.BucketVersioningStatusSuspended {
		t.Fatalf("versioning after update: %+v %v", gv, err)
	}
	if o := ownership(); o != s3types.ObjectOwnershipBucketOwnerEnforced {
		t.Errorf("ownership after update: %s", o)
	}
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("public"), TemplateBody: aws.String(
		"Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      AccessControl: PublicRead\n")}); err != nil {
		t.Fatal(err)
	}
	if st := waitStack(t, c, "public"); !strings.Contains(string(st.StackStatus), "ROLLBACK") ||
		!strings.Contains(aws.ToString(st.StackStatusReason)+stackReasons(t, c, "public"), "BucketOwnerEnforced") {
		t.Errorf("a PublicRead bucket on the default ownership: %s %s", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if _, err := sc.DeleteBucketLifecycle(ctx, &awss3.DeleteBucketLifecycleInput{Bucket: aws.String("versioned-from-cfn")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.GetBucketLifecycleConfiguration(ctx, &awss3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("versioned-from-cfn")}); apiCode(err) != "NoSuchLifecycleConfiguration" {
		t.Errorf("GetBucketLifecycleConfiguration after delete: %v", err)
	}
}
