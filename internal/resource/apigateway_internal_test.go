package resource

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestStageOps checks the UpdateStage operations a stage change becomes:
// method settings at /<escaped resource path>/<method>/..., variables
// added, changed and removed, settings no longer listed removed.
func TestStageOps(t *testing.T) {
	old := &stageSettings{
		Variables:      map[string]string{"keep": "1", "change": "a", "drop": "x"},
		MethodSettings: []methodSetting{{ResourcePath: aws.String("/items/{id}"), HttpMethod: aws.String("GET"), ThrottlingBurstLimit: aws.Int64(5)}},
	}
	cur := &stageSettings{
		Description: aws.String("d"), TracingEnabled: aws.Bool(true),
		Variables:            map[string]string{"keep": "1", "change": "b"},
		ThrottlingBurstLimit: aws.Int64(9), // a Deployment's StageDescription: every method
		MethodSettings:       []methodSetting{{ResourcePath: aws.String("/*"), HttpMethod: aws.String("*"), CachingEnabled: aws.Bool(true)}},
	}
	var got []string
	for _, op := range stageOps(old, cur) {
		got = append(got, string(op.Op)+" "+aws.ToString(op.Path)+" "+aws.ToString(op.Value))
	}
	want := []string{
		"replace /description d",
		"replace /tracingEnabled true",
		"remove /variables/drop ",
		"replace /variables/change b",
		"remove /~1items~1{id}/GET/throttling/burstLimit ",
		"replace /*/*/throttling/burstLimit 9",
		"replace /*/*/caching/enabled true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ops := stageOps(cur, cur); len(ops) != 2 { // the settings themselves are always put
		t.Errorf("no change = %v", ops)
	}
}
