package build

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// esbuildVersion names the esbuild library linked in, for the cache key.
const esbuildVersion = "esbuild-go v0.28.2"

// BuildMethod: esbuild, as `sam build` runs it (aws-lambda-builders'
// nodejs_npm_esbuild workflow): the package's dependencies are installed
// with npm when package.json declares any, then each of
// BuildProperties.EntryPoints is bundled for Node.js into the root of the
// code, named after the entry point (src/app.ts → app.js). esbuild runs
// in process through its Go library: nothing of npm's esbuild is needed.
//
// BuildProperties read, with sam build's defaults: EntryPoints (required),
// Minify (true), Target (es2020), Format (cjs), Sourcemap (false),
// External, Loader (".ext=loader"), Banner and Footer ("js=..."),
// MainFields, OutExtension (".js=.mjs"). Any other is refused by name.

// esbuildProps are the BuildProperties sam build's esbuild reads.
type esbuildProps struct {
	EntryPoints  []string
	Minify       *bool
	Target       string
	Format       string
	Sourcemap    bool
	External     []string
	Loader       []string
	Banner       string
	Footer       string
	MainFields   []string
	OutExtension []string
}

// readEsbuildProps reads Metadata.BuildProperties, whose values may be
// written as strings ("true") the way sam build accepts them.
func readEsbuildProps(raw map[string]any) (*esbuildProps, error) {
	p := &esbuildProps{Target: "es2020", Format: "cjs"}
	list := func(k string, v any) ([]string, error) {
		switch x := v.(type) {
		case string:
			var out []string
			for s := range strings.SplitSeq(x, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
			return out, nil
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("BuildProperties %s: every item must be a string", k)
				}
				out = append(out, s)
			}
			return out, nil
		}
		return nil, fmt.Errorf("BuildProperties %s must be a list of strings", k)
	}
	boolean := func(k string, v any) (bool, error) {
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(x) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return false, fmt.Errorf("BuildProperties %s must be true or false", k)
	}
	str := func(k string, v any) (string, error) {
		if s, ok := v.(string); ok {
			return s, nil
		}
		return "", fmt.Errorf("BuildProperties %s must be a string", k)
	}
	for k, v := range raw {
		var err error
		switch k {
		case "EntryPoints":
			p.EntryPoints, err = list(k, v)
		case "External":
			p.External, err = list(k, v)
		case "Loader":
			p.Loader, err = list(k, v)
		case "MainFields":
			p.MainFields, err = list(k, v)
		case "OutExtension":
			p.OutExtension, err = list(k, v)
		case "Minify":
			var b bool
			b, err = boolean(k, v)
			p.Minify = &b
		case "Sourcemap":
			p.Sourcemap, err = boolean(k, v)
		case "Target":
			p.Target, err = str(k, v)
		case "Format":
			p.Format, err = str(k, v)
		case "Banner":
			p.Banner, err = str(k, v)
		case "Footer":
			p.Footer, err = str(k, v)
		default:
			err = fmt.Errorf("BuildProperties %s is %w by nimbus deploy's esbuild (it reads EntryPoints, Minify, Target, Format, Sourcemap, External, Loader, Banner, Footer, MainFields, OutExtension)", k, ErrUnsupported)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(p.EntryPoints) == 0 {
		return nil, fmt.Errorf("BuildMethod esbuild needs Metadata.BuildProperties.EntryPoints (for example [app.ts])")
	}
	return p, nil
}

// options turns the properties into esbuild's, bundling from src into out.
func (p *esbuildProps) options(src, out string) (api.BuildOptions, error) {
	o := api.BuildOptions{
		EntryPoints: p.EntryPoints, Bundle: true, Platform: api.PlatformNode, Write: true,
		AbsWorkingDir: src, Outdir: out, External: p.External, MainFields: p.MainFields,
		LogLevel: api.LogLevelSilent,
	}
	if p.Minify == nil || *p.Minify {
		o.MinifyWhitespace, o.MinifyIdentifiers, o.MinifySyntax = true, true, true
	}
	if p.Sourcemap {
		o.Sourcemap = api.SourceMapLinked
	}
	switch strings.ToLower(p.Format) {
	case "cjs", "":
		o.Format = api.FormatCommonJS
	case "esm":
		o.Format = api.FormatESModule
	default:
		return o, fmt.Errorf("BuildProperties Format %q: esbuild for Lambda takes cjs or esm", p.Format)
	}
	for t := range strings.SplitSeq(p.Target, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case t == "esnext":
			o.Target = api.ESNext
		case strings.HasPrefix(t, "es"):
			targets := map[string]api.Target{"es2015": api.ES2015, "es2016": api.ES2016, "es2017": api.ES2017, "es2018": api.ES2018,
				"es2019": api.ES2019, "es2020": api.ES2020, "es2021": api.ES2021, "es2022": api.ES2022, "es2023": api.ES2023, "es2024": api.ES2024}
			tg, ok := targets[t]
			if !ok {
				return o, fmt.Errorf("BuildProperties Target %q is not a target esbuild knows", t)
			}
			o.Target = tg
		case strings.HasPrefix(t, "node"):
			o.Engines = append(o.Engines, api.Engine{Name: api.EngineNode, Version: strings.TrimPrefix(t, "node")})
		default:
			return o, fmt.Errorf("BuildProperties Target %q: use esNNNN or nodeNN", t)
		}
	}
	loaders := map[string]api.Loader{"js": api.LoaderJS, "jsx": api.LoaderJSX, "ts": api.LoaderTS, "tsx": api.LoaderTSX,
		"json": api.LoaderJSON, "text": api.LoaderText, "base64": api.LoaderBase64, "binary": api.LoaderBinary,
		"dataurl": api.LoaderDataURL, "file": api.LoaderFile, "copy": api.LoaderCopy, "empty": api.LoaderEmpty, "css": api.LoaderCSS}
	for _, l := range p.Loader {
		ext, name, ok := strings.Cut(l, "=")
		loader, known := loaders[strings.ToLower(name)]
		if !ok || !strings.HasPrefix(ext, ".") || !known {
			return o, fmt.Errorf("BuildProperties Loader %q: write .ext=loader (loaders: js, jsx, ts, tsx, json, text, base64, binary, dataurl, file, copy, empty, css)", l)
		}
		if o.Loader == nil {
			o.Loader = map[string]api.Loader{}
		}
		o.Loader[ext] = loader
	}
	for _, e := range p.OutExtension {
		from, to, ok := strings.Cut(e, "=")
		if !ok {
			return o, fmt.Errorf("BuildProperties OutExtension %q: write .js=.mjs", e)
		}
		if o.OutExtension == nil {
			o.OutExtension = map[string]string{}
		}
		o.OutExtension[from] = to
	}
	for _, kv := range []struct {
		v   string
		dst *map[string]string
	}{{p.Banner, &o.Banner}, {p.Footer, &o.Footer}} {
		if kv.v == "" {
			continue
		}
		lang, text, ok := strings.Cut(kv.v, "=")
		if !ok || lang != "js" && lang != "css" {
			lang, text = "js", kv.v
		}
		*kv.dst = map[string]string{lang: text}
	}
	return o, nil
}

// esbuildKey adds what the bundle depends on besides the source files.
func (b *builder) esbuildKey(ctx context.Context, h io.Writer) error {
	props, err := json.Marshal(b.u.BuildProperties)
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "%s\nprops %s\n", esbuildVersion, props)
	if needsNpm(b.u.Source) {
		return toolVersions(ctx, h, b.opts.Env, []string{"node", "--version"}, []string{"npm", "--version"})
	}
	return nil
}

// esbuildBuild installs the dependencies in a scratch copy of the source
// and bundles the entry points into code.
func (b *builder) esbuildBuild(ctx context.Context, files []file, code string) error {
	p, err := readEsbuildProps(b.u.BuildProperties)
	if err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(filepath.Dir(code), "esbuild-src-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if err := copyTree(files, scratch); err != nil {
		return err
	}
	if needsNpm(b.u.Source) {
		verb := "install"
		if _, err := os.Stat(filepath.Join(scratch, "package-lock.json")); err == nil {
			verb = "ci"
		}
		if err := b.runTool(ctx, scratch, b.opts.Env, "npm", verb, "--no-audit", "--no-fund", "--no-update-notifier"); err != nil {
			return err
		}
	}
	abs, err := filepath.Abs(code)
	if err != nil {
		return err
	}
	o, err := p.options(scratch, abs)
	if err != nil {
		return err
	}
	res := api.Build(o)
	if len(res.Errors) > 0 {
		msgs := api.FormatMessages(res.Errors, api.FormatMessagesOptions{Kind: api.ErrorMessage})
		return fmt.Errorf("esbuild: %d errors:\n%s", len(res.Errors), strings.TrimSpace(strings.Join(msgs, "")))
	}
	return nil
}
