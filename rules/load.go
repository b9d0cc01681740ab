package rules

import (
	"fmt"
	"os"
	"strings"

	"github.com/kusanagi-dev/kusanagi/internal/yamlpos"
)

// File is one catalogue file's name and content.
type File struct {
	Name string
	Src  []byte
}

// LoadFiles reads catalogue files and returns them as one validated
// catalogue. On any problem it returns every problem found, as Errors.
func LoadFiles(paths ...string) (*Catalogue, error) {
	files := make([]File, 0, len(paths))
	var errs Errors
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, &Error{File: p, Msg: fmt.Sprintf("cannot read catalogue: %v", err)})
			continue
		}
		files = append(files, File{Name: p, Src: src})
	}
	c, parseErrs := Parse(files...)
	errs = append(errs, parseErrs...)
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// Parse decodes and validates catalogue files as one catalogue: alert names
// are unique across all of them, and each file's defaults apply to its own
// alerts.
func Parse(files ...File) (*Catalogue, Errors) {
	c := &Catalogue{}
	var errs Errors
	names := make(map[string]*Alert)
	for _, f := range files {
		c.Files = append(c.Files, f.Name)
		alerts, fileErrs := parseFile(f, names)
		errs = append(errs, fileErrs...)
		c.Alerts = append(c.Alerts, alerts...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

func parseFile(f File, names map[string]*Alert) ([]*Alert, Errors) {
	v := &validator{file: f.Name, lines: strings.Split(string(f.Src), "\n")}
	root, perr := yamlpos.Parse(f.Src)
	if perr != nil {
		return nil, Errors{{File: f.Name, Pos: perr.Pos, Msg: perr.Msg}}
	}
	if len(root.Content) == 0 {
		return nil, nil // an empty file, like an empty Prometheus rule file, holds no alerts
	}
	var cf catalogueFile
	for _, e := range yamlpos.Decode(root, &cf) {
		v.errs = append(v.errs, &Error{File: f.Name, Pos: e.Pos, Alert: alertAt(cf.Alerts, e.Pos), Msg: e.Msg})
	}
	if !cf.Where.Has("alerts") && cf.Where.Pos.Line > 0 {
		v.errorf(cf.Where.Pos, "no alerts: list (a catalogue file holds alerts: and optional defaults:)")
	}
	v.defaults(&cf.Defaults)
	for _, a := range cf.Alerts {
		if a == nil {
			continue
		}
		a.File = f.Name
		v.alert(a, &cf.Defaults)
		if a.Name == "" {
			continue
		}
		if first, dup := names[a.Name]; dup {
			v.errorf(a.Where.At("name"), "alert %q is already defined at %s:%s", a.Name, first.File, first.Where.At("name"))
			continue
		}
		names[a.Name] = a
	}
	v.errs.sortByPos()
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	alerts := make([]*Alert, 0, len(cf.Alerts))
	for _, a := range cf.Alerts {
		if a != nil {
			alerts = append(alerts, a)
		}
	}
	return alerts, nil
}

// validator collects the problems of one file.
type validator struct {
	file      string
	lines     []string
	alertName string
	errs      Errors
}

func (v *validator) errorf(p yamlpos.Pos, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Pos: p, Alert: v.alertName, Msg: fmt.Sprintf(format, args...)})
}

// alertAt names the alert whose entry holds p: entries follow one another,
// and everything inside one is indented at least as far as its first key.
func alertAt(alerts []*Alert, p yamlpos.Pos) string {
	for i := len(alerts) - 1; i >= 0; i-- {
		a := alerts[i]
		if a == nil || p.Line < a.Where.Pos.Line {
			continue
		}
		if p.Column >= a.Where.Pos.Column {
			return a.Name
		}
		return ""
	}
	return ""
}
