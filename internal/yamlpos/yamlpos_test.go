package yamlpos

import (
	"strings"
	"testing"
)

type inner struct {
	Where Meta
	Name  string            `yaml:"name"`
	Tags  []string          `yaml:"tags"`
	Attrs map[string]string `yaml:"attrs"`
	Count int               `yaml:"count"`
	On    bool              `yaml:"on"`
	Ratio float64           `yaml:"ratio"`
	Opt   *string           `yaml:"opt"`
}

type outer struct {
	Where Meta
	Items []*inner `yaml:"items"`
}

func decode(t *testing.T, src string) (*outer, []*Error) {
	t.Helper()
	root, perr := Parse([]byte(src))
	if perr != nil {
		return nil, []*Error{perr}
	}
	var o outer
	return &o, Decode(root, &o)
}

func TestDecodeKeepsPositions(t *testing.T) {
	o, errs := decode(t, `items:
  - name: a
    tags: [x, y]
    attrs: {k: v}
    count: 0x10
    on: true
    ratio: 0.5
    opt: ""
`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	it := o.Items[0]
	if it.Name != "a" || it.Count != 16 || !it.On || it.Ratio != 0.5 || it.Opt == nil || *it.Opt != "" || it.Attrs["k"] != "v" {
		t.Fatalf("decoded %+v", it)
	}
	for key, want := range map[string]Pos{"name": {2, 11}, "tags[1]": {3, 15}, "attrs.k": {4, 16}, "missing": {2, 5}} {
		if got := it.Where.At(key); got != want {
			t.Errorf("At(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestDecodeCollectsEveryError(t *testing.T) {
	_, errs := decode(t, `items:
  - name: [list]
    count: many
    on: maybe
    unknown: 1
    name: again
  - tags: {a: b}
other: 1
`)
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		"2:11: name: expected a string, got a list",
		"3:12: count: cannot parse \"many\" as an integer",
		"4:9: on: cannot parse \"maybe\" as a boolean (true or false)",
		"5:5: unknown field \"unknown\" (known fields: name, tags, attrs, count, on, ratio, opt)",
		"6:5: key \"name\" already defined at line 2",
		"7:11: tags: expected a list, got a mapping",
		"8:1: unknown field \"other\" (known fields: items)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("errors\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMergeKeysAndAliases(t *testing.T) {
	o, errs := decode(t, `items:
  - &base
    name: base
    tags: [t]
  - <<: *base
    name: derived
  - *base
`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if o.Items[1].Name != "derived" || len(o.Items[1].Tags) != 1 || o.Items[2].Name != "base" {
		t.Fatalf("merge/alias decoded %+v %+v", o.Items[1], o.Items[2])
	}
}

func TestAliasBombIsBounded(t *testing.T) {
	src := "a: &a [x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		src += n + ": &" + n + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = n
	}
	root, perr := Parse([]byte(src))
	if perr != nil {
		return // the YAML parser's own alias limit refused it: also fine
	}
	var v map[string]any
	if errs := Decode(root, &v); len(errs) == 0 {
		t.Fatal("a billion-laughs document decoded without error")
	}
}

func TestSyntaxErrorHasLine(t *testing.T) {
	_, perr := Parse([]byte("a: 1\nb: 'unclosed\n"))
	if perr == nil || perr.Pos.Line != 2 || perr.Pos.Column != 1 || perr.Msg != "yaml: found unexpected end of stream" {
		t.Fatalf("syntax error = %v", perr)
	}
}
