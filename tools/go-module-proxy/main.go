// Command go-module-proxy publishes a Go module directory as a module proxy tree (the layout
// GOPROXY=file://<dir> serves: <module>/@v/list, .info, .mod, .zip), so programs outside this
// repository can `go get` the SDK exactly as they would from a real proxy.
//
//	go-module-proxy -dir sdk/go -version v0.1.0 -out dist/packages/goproxy
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

func main() {
	dir := flag.String("dir", "", "the module's root directory (holds go.mod)")
	version := flag.String("version", "", "the version to publish, e.g. v0.1.0")
	out := flag.String("out", "", "root of the proxy tree to write into")
	flag.Parse()
	if err := publish(*dir, *version, *out); err != nil {
		fmt.Fprintln(os.Stderr, "go-module-proxy:", err)
		os.Exit(1)
	}
}

func publish(dir, version, out string) error {
	if !semver.IsValid(version) {
		return fmt.Errorf("-version %q is not a Go module version (vMAJOR.MINOR.PATCH)", version)
	}
	goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	modulePath := modfile.ModulePath(goMod)
	if modulePath == "" {
		return fmt.Errorf("%s/go.mod names no module", dir)
	}
	mv := module.Version{Path: modulePath, Version: version}
	if err := module.Check(mv.Path, mv.Version); err != nil {
		return err
	}
	escaped, err := module.EscapePath(modulePath)
	if err != nil {
		return err
	}
	versions := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(versions, 0o755); err != nil {
		return err
	}

	zipFile, err := os.Create(filepath.Join(versions, version+".zip"))
	if err != nil {
		return err
	}
	// CreateFromDir applies the go command's own rules: what a module zip may hold and its limits.
	if err := modzip.CreateFromDir(zipFile, mv, dir); err != nil {
		zipFile.Close()
		return err
	}
	if err := zipFile.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(versions, version+".mod"), goMod, 0o644); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(versions, version+".info"), info, 0o644); err != nil {
		return err
	}
	// One version per build: the list names exactly what this tree serves.
	if err := os.WriteFile(filepath.Join(versions, "list"), []byte(version+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s@%s -> %s\n", modulePath, version, versions)
	return nil
}
