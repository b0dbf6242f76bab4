package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/source"
	"github.com/driftless/driftless/pkg/spec"
)

// runValidate checks spec files and directories the way the daemon would,
// and lists every error. It is quick enough for a pre-commit hook.
func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quiet := fs.Bool("quiet", false, "print errors only")
	live := fs.Bool("live", false, "also run the pre-flight checks against the AWS account: VPC, subnets, key pair, image, instance types, snapshots, volumes, security groups, EFS, IAM")
	configPath := fs.String("config", "", "with --live, the daemon config whose aws section names the region and endpoint (default: the AWS environment)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	files, err := readSpecs(ctx, paths)
	if err != nil {
		return err
	}
	set := spec.Load(files)
	invalid := make(map[string]spec.Errors, len(set.Invalid))
	for f, es := range set.Invalid {
		invalid[f] = es
	}
	for _, c := range set.Clusters {
		if _, err := render.Render(c); err != nil {
			invalid[c.File] = spec.Errors{{File: c.File, Msg: "render: " + err.Error()}}
		}
	}
	region := ""
	if *live {
		failed, ch, err := checkLive(ctx, *configPath, set.Clusters, invalid)
		if err != nil {
			return err
		}
		for f, es := range failed {
			invalid[f] = append(invalid[f], es...)
		}
		region = ch.Region
	}
	names := make([]string, 0, len(invalid))
	for f := range invalid {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		for _, e := range invalid[f] {
			fmt.Fprintln(stdout, e.Error())
		}
	}
	if len(invalid) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d files invalid", len(invalid), len(files))}
	}
	if !*quiet && *live {
		fmt.Fprintf(stdout, "%d clusters valid; pre-flight checks passed in %s\n", len(set.Clusters), region)
	} else if !*quiet {
		fmt.Fprintf(stdout, "%d clusters valid\n", len(set.Clusters))
	}
	return nil
}

// readSpecs reads files and directories into one path → content map; a
// directory is read the way the daemon's local-directory mode reads it.
func readSpecs(ctx context.Context, paths []string) (map[string][]byte, error) {
	files := make(map[string][]byte)
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			files[filepath.ToSlash(p)] = data
			continue
		}
		snap, err := source.NewDir(p, slog.New(slog.DiscardHandler)).Fetch(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		for name, data := range snap.Files {
			key := filepath.ToSlash(filepath.Join(p, name))
			if _, dup := files[key]; dup {
				return nil, errors.New("path given twice: " + key)
			}
			files[key] = data
		}
	}
	return files, nil
}

// runRender prints the CloudFormation template one spec renders to.
func runRender(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 1 {
		return &exitError{code: 2, err: errors.New("render takes one spec file")}
	}
	path := fs.Arg(0)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	c, errs := spec.Parse(filepath.ToSlash(path), data)
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, e.Error())
		}
		return &exitError{code: 1, err: fmt.Errorf("%s is invalid", path)}
	}
	st, err := render.Render(c)
	if err != nil {
		return err
	}
	_, err = stdout.Write(st.Template)
	return err
}
