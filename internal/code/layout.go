package code

import (
	"archive/zip"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// Path limits of Linux (PATH_MAX and NAME_MAX): a name the kernel cannot
// create is refused at upload, not at the first invoke.
const (
	maxPath       = 4095
	maxNameLen    = 255
	maxLinkTarget = 4095
)

type kind uint8

const (
	kindDir kind = iota + 1
	kindFile
	kindLink
)

// item is one thing to create: a directory (explicit or implied by a
// deeper entry), a regular file or a symbolic link.
type item struct {
	name string    // clean, slash-separated, relative, never "" or "."
	kind kind      //
	file *zip.File // nil for an implied directory
}

// layout is what a package unpacks to, checked as a whole before anything
// is written: every name is relative and free of "..", no name is used
// twice (directories excepted), no entry lies beneath a file or a symbolic
// link, and nothing but directories, regular files and symbolic links is
// asked for. Because nothing may lie beneath a symbolic link, and links are
// created after everything else, extraction never needs to resolve a link
// the archive made; the extractor enforces that with the kernel as well.
type layout struct {
	dirs  []item // sorted, so a parent comes before its children
	files []item // in archive order
	links []item // in archive order
}

// planLayout checks the names and types of zr's entries and the
// sizes their headers declare, and returns what to create.
func planLayout(zr *zip.Reader, limit int64) (*layout, error) {
	kinds := map[string]kind{}
	var l layout
	var declared uint64
	for _, f := range zr.File {
		name, err := cleanName(f.Name)
		if err != nil {
			return nil, err
		}
		// Compare before adding: a forged header can claim 2^64-1 bytes.
		if f.UncompressedSize64 > uint64(limit) || declared+f.UncompressedSize64 > uint64(limit) { // #nosec G115 -- limit is positive
			return nil, tooBig(limit)
		}
		declared += f.UncompressedSize64
		k, err := entryKind(f, name)
		if err != nil {
			return nil, err
		}
		if name == "" {
			continue // the root directory itself
		}
		// Every ancestor is a directory, implied if the archive does not
		// list it; none may be a file or a link.
		for i := 0; i < len(name); i++ {
			if name[i] != '/' {
				continue
			}
			parent := name[:i]
			switch kinds[parent] {
			case 0:
				kinds[parent] = kindDir
				l.dirs = append(l.dirs, item{name: parent, kind: kindDir})
			case kindFile, kindLink:
				return nil, clash(f.Name, parent)
			}
		}
		switch prev := kinds[name]; {
		case prev == 0:
		case prev == kindDir && k == kindDir:
			continue // listed twice, or implied by an earlier entry
		case prev == kindDir || k == kindDir:
			return nil, awsapi.InvalidParameter("Could not unzip uploaded file: %q is both a directory and a file or symbolic link.", name)
		default:
			return nil, awsapi.InvalidParameter("Could not unzip uploaded file: the archive holds %q more than once.", name)
		}
		kinds[name] = k
		it := item{name: name, kind: k, file: f}
		switch k {
		case kindDir:
			l.dirs = append(l.dirs, it)
		case kindFile:
			l.files = append(l.files, it)
		case kindLink:
			l.links = append(l.links, it)
		}
	}
	sort.Slice(l.dirs, func(i, j int) bool { return l.dirs[i].name < l.dirs[j].name })
	return &l, nil
}

// entryKind says what f asks to create; devices, pipes and sockets are
// refused (Lambda's unzip would not make them either, and they have no
// place in a code package).
func entryKind(f *zip.File, name string) (kind, error) {
	m := f.Mode()
	switch {
	case m.IsDir():
		return kindDir, nil
	case name == "":
		return 0, awsapi.InvalidParameter("Could not unzip uploaded file: entry %q has no name.", f.Name)
	case m&fs.ModeSymlink != 0:
		return kindLink, nil
	case m.IsRegular():
		return kindFile, nil
	}
	return 0, awsapi.InvalidParameter("Could not unzip uploaded file: entry %q is not a regular file, a directory or a symbolic link.", f.Name)
}

func clash(entry, parent string) error {
	return awsapi.InvalidParameter("Could not unzip uploaded file: entry %q lies beneath %q, which is a file or a symbolic link. Entries beneath a symbolic link are not allowed.", entry, parent)
}

// cleanName returns the slash-separated relative path of a zip entry ("" for
// the root), or an error for absolute paths, entries that climb out with
// "..", and names Linux cannot create.
func cleanName(n string) (string, error) {
	n = strings.ReplaceAll(n, "\\", "/")
	if strings.HasPrefix(n, "/") || strings.Contains(n, "\x00") {
		return "", awsapi.InvalidParameter("Could not unzip uploaded file: entry %q has an absolute path.", n)
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", awsapi.InvalidParameter("Could not unzip uploaded file: entry %q escapes the package root.", n)
		}
		if len(part) > maxNameLen {
			return "", awsapi.InvalidParameter("Could not unzip uploaded file: entry %q has a name longer than %d bytes.", n, maxNameLen)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", nil
	}
	if len(c) > maxPath-len("/var/task/") {
		return "", awsapi.InvalidParameter("Could not unzip uploaded file: entry %q has a path longer than %d bytes.", n, maxPath-len("/var/task/"))
	}
	return c, nil
}

func tooBig(limit int64) error {
	return awsapi.InvalidParameter("Unzipped size must be smaller than %d bytes", limit)
}
