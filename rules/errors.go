package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/kusanagi-dev/kusanagi/internal/yamlpos"
)

// Error is one problem in a catalogue file, printed as
// FILE:LINE:COL: alert "NAME": message, like Prometheus's rulefmt.
type Error struct {
	File  string
	Pos   yamlpos.Pos
	Alert string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Pos.Line, e.Pos.Column)
	}
	b.WriteString(": ")
	if e.Alert != "" {
		fmt.Fprintf(&b, "alert %q: ", e.Alert)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors are all the problems found in a catalogue, file by file in the
// order the files were given, each file's in position order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sortByPos orders the errors of one file.
func (es Errors) sortByPos() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
}
