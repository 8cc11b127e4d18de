// Command gen-sdk generates the provider's nodejs, python and go SDKs from schema.json by calling
// Pulumi's codegen libraries in-process.
//
// Why not `pulumi package gen-sdk`: the CLI delegates generation to each language host's
// GeneratePackage RPC, and the language hosts we can build here (v3.66-v3.78, see
// scripts/install-pulumi.sh) predate that RPC. The hosts' GeneratePackage is a thin wrapper around
// exactly the calls below, so we make them ourselves, pinned to the same pkg/v3 version as the CLI
// and with the same tool names, so the output matches what the CLI would write for a valid schema.
// One deliberate difference, explained in bind: we reject references to types missing from the
// schema.
//
//	gen-sdk -schema schema.json -out sdk -version 0.1.0 -pulumi 3.259.0
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/blang/semver"
	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"golang.org/x/mod/modfile"

	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
)

// languages lists the SDKs we generate, each into <out>/<name>. The tool names are the ones the
// language hosts pass, so generated file headers read the same as with `pulumi package gen-sdk`.
var languages = []struct {
	name     string
	generate func(pkg *schema.Package) (map[string][]byte, error)
}{
	{"nodejs", func(pkg *schema.Package) (map[string][]byte, error) {
		// No overlays, no local dependencies, not a local (`pulumi package add`) SDK.
		return nodejs.GeneratePackage("pulumi-language-nodejs", pkg, nil, nil, false, noLoader{})
	}},
	{"python", func(pkg *schema.Package) (map[string][]byte, error) {
		return python.GeneratePackage("pulumi-language-python", pkg, nil, noLoader{})
	}},
	{"go", func(pkg *schema.Package) (map[string][]byte, error) {
		return gogen.GeneratePackage("pulumi-language-go", pkg, nil)
	}},
}

func main() {
	schemaPath := flag.String("schema", "schema.json", "the provider's Pulumi package schema (JSON)")
	out := flag.String("out", "sdk", "output root; SDKs go to <out>/nodejs, <out>/python and <out>/go")
	version := flag.String("version", "", "package version (semver) to stamp into the SDKs (required)")
	pulumiMin := flag.String("pulumi", "", "the project's Pulumi minimum (semver), required by the Go SDK's go.mod (required)")
	flag.Parse()
	if err := run(*schemaPath, *out, *version, *pulumiMin); err != nil {
		fmt.Fprintln(os.Stderr, "gen-sdk:", err)
		os.Exit(1)
	}
}

func run(schemaPath, out, version, pulumiMin string) error {
	// Strict parse: the schema's own version may be a placeholder, and a typo here would otherwise
	// end up in every published package.
	if _, err := semver.Parse(version); err != nil {
		return fmt.Errorf("-version %q: %w", version, err)
	}
	if _, err := semver.Parse(pulumiMin); err != nil {
		return fmt.Errorf("-pulumi %q: %w", pulumiMin, err)
	}
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}

	// Generate everything in memory first, so a schema error leaves the existing SDKs untouched.
	generated := map[string]map[string][]byte{}
	for _, lang := range languages {
		// Bind afresh per language, like each language host does: the generators record their
		// decoded options in pkg.Language, so a shared *Package could leak state between them.
		pkg, err := bind(raw, version)
		if err != nil {
			return fmt.Errorf("%s: %w", schemaPath, err)
		}
		files, err := lang.generate(pkg)
		if err != nil {
			return fmt.Errorf("generating %s SDK: %w", lang.name, err)
		}
		generated[lang.name] = files
	}
	if err := requirePulumi(generated["go"], pulumiMin); err != nil {
		return err
	}

	for _, lang := range languages {
		dir := filepath.Join(out, lang.name)
		if err := writeTree(dir, generated[lang.name]); err != nil {
			return err
		}
		fmt.Printf("%-6s %3d files -> %s\n", lang.name, len(generated[lang.name]), dir)
	}
	return nil
}

// requirePulumi makes the Go SDK's go.mod require the project's one Pulumi minimum. The codegen
// writes the Go SDK version its own release was built with, which is not the minimum we test; the
// npm and Python SDKs take theirs from schema.json's language options.
func requirePulumi(goFiles map[string][]byte, minimum string) error {
	f, err := modfile.Parse("go.mod", goFiles["go.mod"], nil)
	if err != nil {
		return fmt.Errorf("the generated Go SDK's go.mod: %w", err)
	}
	if err := f.AddRequire("github.com/pulumi/pulumi/sdk/v3", "v"+minimum); err != nil {
		return err
	}
	f.Cleanup()
	formatted, err := f.Format()
	if err != nil {
		return err
	}
	goFiles["go.mod"] = formatted
	return nil
}

// bind parses and validates the schema, which must carry the given version and meta.supportPack:
// with supportPack the generators stamp the schema's version into every SDK (package.json,
// pyproject.toml, pulumi-plugin.json) and write the Go SDK's own go.mod, so `pulumi package
// gen-sdk schema.json` produces the same SDKs as this tool.
func bind(raw []byte, version string) (*schema.Package, error) {
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, err
	}
	if spec.Version != version {
		return nil, fmt.Errorf("version %q differs from the release version %q: run scripts/set-version.sh %s",
			spec.Version, version, version)
	}
	if spec.Meta == nil || !spec.Meta.SupportPack {
		return nil, errors.New("meta.supportPack must be true, or SDKs get placeholder versions and Go no go.mod")
	}

	// Unlike the language hosts we do not set AllowDanglingReferences: it only lets a reference to a
	// type missing from the schema through, which for our own schema is a typo that would generate
	// SDKs naming an undefined type. Valid schemas generate the same either way.
	pkg, diags, err := schema.BindSpec(spec, noLoader{}, schema.ValidationOptions{})
	if err != nil {
		return nil, err
	}
	for _, d := range diags {
		severity := "warning"
		if d.Severity == hcl.DiagError {
			severity = "error"
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		fmt.Fprintf(os.Stderr, "gen-sdk: %s: %s\n", severity, msg)
	}
	if diags.HasErrors() {
		return nil, errors.New("schema has errors (see above)")
	}
	return pkg, nil
}

// writeTree replaces dir with exactly the given files, so files the schema no longer produces
// (a removed resource, say) do not linger.
func writeTree(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		// 0644 rather than the hosts' 0600: these files are committed and read by other tools.
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// noLoader is the schema loader for a self-contained schema. The loader is only consulted for
// references to other packages' schemas (e.g. "/kubernetes/v4.0.0/schema.json#/types/..."); the
// CLI would start those providers as plugins to fetch their schemas, which we cannot do here, so
// such a reference fails with a clear message instead of a nil-pointer panic.
type noLoader struct{}

var _ schema.ReferenceLoader = noLoader{}

func (noLoader) LoadPackage(pkg string, version *semver.Version) (*schema.Package, error) {
	return nil, errNoLoader(pkg)
}

func (noLoader) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, errNoLoader(d.Name)
}

func (noLoader) LoadPackageReference(pkg string, version *semver.Version) (schema.PackageReference, error) {
	return nil, errNoLoader(pkg)
}

func (noLoader) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return nil, errNoLoader(d.Name)
}

func errNoLoader(pkg string) error {
	return fmt.Errorf("the schema refers to package %q: gen-sdk only supports self-contained schemas", pkg)
}
