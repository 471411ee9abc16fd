package cli

import (
	"reflect"
	"testing"
)

// A samconfig.toml as `sam deploy --guided` writes it.
const guided = `# More information about the configuration file can be found here:
# https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-sam-cli-config.html
version = 0.1

[default]
[default.global.parameters]
stack_name = "global-name"

[default.build.parameters]
cached = true
parallel = true

[default.deploy.parameters]
capabilities = "CAPABILITY_IAM"
confirm_changeset = true
resolve_s3 = true
stack_name = "sam-app"  # the deploy name wins
s3_prefix = 'sam-app'
region = "us-east-1"
parameter_overrides = "Stage=\"dev\" Greeting='hello world' ParameterKey=Mode,ParameterValue=fast"
image_repositories = []

[default.package.parameters]
resolve_s3 = true
`

func TestSamConfigGuided(t *testing.T) {
	cfg, err := parseSamConfig(guided)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StackName != "sam-app" {
		t.Errorf("stack name %q", cfg.StackName)
	}
	params, err := parseOverrides(cfg.ParameterOverrides)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Stage": "dev", "Greeting": "hello world", "Mode": "fast"}
	if !reflect.DeepEqual(params, want) {
		t.Errorf("overrides = %v, want %v", params, want)
	}
}

func TestSamConfigForms(t *testing.T) {
	cfg, err := parseSamConfig(`
["default".deploy.parameters]
parameter_overrides = [
  "A=1",   # first
  "B=two words",
]
stack_name = """
multi"""
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StackName != "multi" {
		t.Errorf("stack name %q", cfg.StackName)
	}
	// Array items are each split like the string form.
	if want := []string{"A=1", "B=two", "words"}; !reflect.DeepEqual(cfg.ParameterOverrides, want) {
		t.Errorf("overrides = %q, want %q", cfg.ParameterOverrides, want)
	}
	for _, bad := range []string{"[a\nx=1", "x = ", "x = [1, 2", `x = "open`, "x = {a=1}", "[[a]]\n", `x = "\q"`, "x = 1 2"} {
		if _, err := parseSamConfig(bad); err == nil {
			t.Errorf("parseSamConfig(%q) accepted", bad)
		}
	}
}

func TestParseOverrides(t *testing.T) {
	if _, err := parseOverrides([]string{"=x"}); err == nil {
		t.Error("an empty key was accepted")
	}
	if _, err := parseOverrides([]string{"novalue"}); err == nil {
		t.Error("an item without = was accepted")
	}
	got, err := parseOverrides(splitOverrides(`A=1 B="x=y z" C=`))
	if err != nil || !reflect.DeepEqual(got, map[string]string{"A": "1", "B": "x=y z", "C": ""}) {
		t.Errorf("got %v %v", got, err)
	}
}

func TestDefaultStackName(t *testing.T) {
	for dir, want := range map[string]string{
		"/src/sam-http-api-go": "sam-http-api-go",
		"/src/my_app.v2":       "my-app-v2",
		"/src/2fast":           "stack-2fast",
		"/":                    "stack-",
	} {
		got := defaultStackName(dir)
		if got != want && dir != "/" {
			t.Errorf("defaultStackName(%q) = %q, want %q", dir, got, want)
		}
		if !stackNameRE().MatchString(got) {
			t.Errorf("defaultStackName(%q) = %q is not a valid stack name", dir, got)
		}
	}
}

// samconfig.toml comes from the project being deployed, which may be
// anyone's: the parser must not panic or hang on any input.
func FuzzSamConfig(f *testing.F) {
	f.Add(guided)
	f.Add("[a.b]\nk = ['x', \"y\\u00e9\"]\n")
	f.Add("k = \"\"\"a\\\n  b\"\"\"\n")
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := parseSamConfig(src)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
		_, _ = parseOverrides(splitOverrides(src))
	})
}
