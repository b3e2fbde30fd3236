// Command packaging builds the bondingfs .deb and .rpm from a staged `make
// install` with nfpm (github.com/goreleaser/nfpm/v2), used as a library:
// every file of the stage goes into the package as it is (mode, path), files
// under /etc become conffiles, and the package metadata, the maintainer
// scripts (scripts/deb, scripts/rpm), the copyright file, the Debian
// changelog and the lintian overrides are added here. `make package` runs it
// once per format and architecture; it is its own Go module so that nfpm's
// dependencies stay out of bondingfs's go.mod.
//
//	go run . -format deb|rpm -arch amd64|arm64 -version V -commit C -stage DIR -out DIR
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm"
)

const (
	name       = "bondingfs"
	maintainer = "bondingfs maintainers <maintainers@users.noreply.h-seed-30d1ef1d.example>"
	summary    = "Linux bonding driver in userspace, at the kernel's own paths"
	// description is the extended description (Debian: one paragraph per
	// blank-line-separated block, lines under 80 columns).
	description = `bondingfs is the Linux bonding driver rebuilt as a userspace daemon. It
serves the driver's interface over FUSE with the kernel's bytes, errno
values and log lines (/sys/class/net/bonding_masters,
/sys/class/net/<bond>/bonding/*, /proc/net/bonding/<bond>), and a
bonding engine behind it drives a TAP device as the bond and the slaves
through packet sockets, in every mode of the driver.

bondingfs.service puts the interface in place at boot with the module
"unloaded"; the modprobe.d rule makes "modprobe bonding" load it, so
ifenslave, ifupdown, initscripts and scripts configure bonds as they do
with bonding.ko. The package also has ifenslave, the classic tool of the
bonding documentation, working through sysfs.`
	// license is the RPM License tag: bondingfs has published no license
	// yet (packaging/copyright says so); the tag says that plainly.
	license = "LicenseRef-bondingfs-unpublished"
	unit    = "bondingfs.service"
)

func main() {
	format := flag.String("format", "deb", "package format: deb or rpm")
	arch := flag.String("arch", "amd64", "Go architecture (amd64, arm64)")
	version := flag.String("version", "", "upstream version (scripts/version.sh)")
	commit := flag.String("commit", "", "git commit the programs were built from")
	stage := flag.String("stage", "", "staged `make install` (DESTDIR) to package")
	out := flag.String("out", ".", "directory for the package")
	flag.Parse()
	if *version == "" || *stage == "" || (*format != "deb" && *format != "rpm") {
		fmt.Fprintln(os.Stderr, "usage: go run . -format deb|rpm -arch ARCH -version V [-commit C] -stage DIR [-out DIR]")
		os.Exit(2)
	}
	path, err := build(*format, *arch, *version, *commit, *stage, *out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "packaging: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

// mtime is the time stamped on every file and in the changelog:
// $SOURCE_DATE_EPOCH (make sets it to the commit's time), else now.
func mtime() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now().UTC()
}

func build(format, arch, version, commit, stage, outDir string) (string, error) {
	when := mtime()
	tmp, err := os.MkdirTemp("", "bondingfs-pkg-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	contents, err := stagedContents(stage, format, when)
	if err != nil {
		return "", err
	}
	docdir := "/usr/share/doc/" + name
	extra := func(dst string, data []byte, typ string) error {
		src := filepath.Join(tmp, strings.ReplaceAll(strings.TrimPrefix(dst, "/"), "/", "_"))
		if err := os.WriteFile(src, data, 0o644); err != nil {
			return err
		}
		contents = append(contents, &files.Content{Source: src, Destination: dst, Type: typ,
			FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: when}})
		return nil
	}
	copyright, err := os.ReadFile("copyright")
	if err != nil {
		return "", err
	}
	info := &nfpm.Info{
		Name:          name,
		Arch:          arch,
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none",
		Release:       "1",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    maintainer,
		Description:   summary + "\n" + description,
		Vendor:        "bondingfs",
		License:       license,
		MTime:         when,
		Overridables: nfpm.Overridables{
			// Debian's ifenslave package (2.x) holds only the ifupdown
			// hooks that turn bond-* stanzas into sysfs writes; they work
			// on top of bondingfs, and no file of it clashes with ours:
			// neither Conflicts nor Provides (see packaging/README.md).
			Suggests:   []string{"ifenslave"},
			Recommends: []string{"kmod"},
			Umask:      0o022,
		},
	}
	switch format {
	case "deb":
		if err := extra(docdir+"/copyright", copyright, ""); err != nil {
			return "", err
		}
		if err := extra(docdir+"/changelog.Debian.gz", debChangelog(version+"-1", commit, when), ""); err != nil {
			return "", err
		}
		overrides, err := os.ReadFile("lintian-overrides")
		if err != nil {
			return "", err
		}
		if err := extra("/usr/share/lintian/overrides/"+name, overrides, ""); err != nil {
			return "", err
		}
		// the programs are position-independent: they need the dynamic
		// loader (libc6's), no shared library
		info.Depends = []string{"libc6"}
		info.Scripts = nfpm.Scripts{PostInstall: "scripts/deb/postinst", PreRemove: "scripts/deb/prerm", PostRemove: "scripts/deb/postrm"}
	case "rpm":
		if err := extra("/usr/share/licenses/"+name+"/copyright", copyright, files.TypeRPMLicense); err != nil {
			return "", err
		}
		info.RPM.Summary = summary
		info.RPM.Group = "System Environment/Daemons"
		info.RPM.Packager = maintainer
		info.RPM.BuildHost = "bondingfs"
		info.RPM.Compression = "xz"
		info.Description = description
		info.Scripts = nfpm.Scripts{PostInstall: "scripts/rpm/post", PreRemove: "scripts/rpm/preun", PostRemove: "scripts/rpm/postun"}
	}
	info.Contents = contents

	pkgr, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := pkgr.Package(info, &buf); err != nil {
		return "", err
	}
	path := filepath.Join(outDir, pkgr.ConventionalFileName(info))
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, buf.Bytes(), 0o644)
}

// stagedContents lists every regular file and symlink under stage as
// package contents at the same path, with its mode; files under /etc are
// configuration files (dpkg conffiles; RPM %config(noreplace)), and in an
// RPM the man pages are %doc.
func stagedContents(stage, format string, when time.Time) (files.Contents, error) {
	var cs files.Contents
	err := filepath.WalkDir(stage, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(stage, p)
		if err != nil {
			return err
		}
		dst := "/" + filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		c := &files.Content{Source: p, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: fi.Mode().Perm(), MTime: when}}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			c.Source, c.Destination, c.Type = target, dst, files.TypeSymlink
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%s: neither a file nor a symlink", p)
		case strings.HasPrefix(dst, "/etc/"):
			c.Type = files.TypeConfigNoReplace
		case format == "rpm" && strings.HasPrefix(dst, "/usr/share/man/"):
			c.Type = files.TypeRPMDoc
		}
		cs = append(cs, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, errors.New(stage + ": nothing staged")
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Destination < cs[j].Destination })
	return cs, nil
}

// debChangelog is /usr/share/doc/bondingfs/changelog.Debian.gz: one entry
// for the version built (the history is git's), compressed as dh_compress
// does (gzip -9n: no name, no time stamp).
func debChangelog(debVersion, commit string, when time.Time) []byte {
	if commit == "" {
		commit = "unknown"
	}
	text := fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n"+
		"  * Built by make package from commit\n"+
		"    %s;\n"+
		"    the changes are in the project's git history.\n\n"+
		" -- %s  %s\n", name, debVersion, commit, maintainer, when.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write([]byte(text))
	w.Close()
	return b.Bytes()
}
