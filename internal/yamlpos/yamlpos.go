// Package yamlpos decodes YAML strictly while keeping the position of every
// value, so that validation can report each problem as line:col and all
// problems of a file at once (yaml.v3's Decoder stops at the first syntax
// error and reports type errors with a line but no column).
package yamlpos

import (
	"cmp"
	"encoding"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pos is a 1-based position in a YAML document.
type Pos struct {
	Line   int
	Column int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// PosOf returns the position of n.
func PosOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

// Meta is filled in by Decode for every struct that has a field of this
// type. It remembers where the mapping and each of its values were, so that
// a validator can point at the exact value it rejects.
type Meta struct {
	Pos    Pos
	values map[string]*yaml.Node
}

// At returns the position of the value under key. Keys of nested maps and
// sequences of scalars are addressed as "labels.ifName" and "key[1]". When
// the key was not in the file, the position of the mapping is returned.
func (m *Meta) At(key string) Pos {
	if n, ok := m.values[key]; ok {
		return PosOf(n)
	}
	return m.Pos
}

// Node returns the node of the value under key, or nil. Validators use it
// to point inside a value (a column of a query or expression).
func (m *Meta) Node(key string) *yaml.Node { return m.values[key] }

// Has reports whether key was present in the file.
func (m *Meta) Has(key string) bool {
	_, ok := m.values[key]
	return ok
}

func (m *Meta) set(key string, n *yaml.Node) {
	if m.values == nil {
		m.values = make(map[string]*yaml.Node)
	}
	m.values[key] = n
}

// Error is a problem found at a position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse parses src into a node tree. yaml.v3 reports syntax errors with a
// line and no column, so such errors point at column 1 of that line.
func Parse(src []byte) (*yaml.Node, *Error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		msg := err.Error()
		if m := syntaxLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &Error{Pos: Pos{Line: line, Column: 1}, Msg: "yaml: " + m[2]}
		}
		return nil, &Error{Pos: Pos{Line: 1, Column: 1}, Msg: msg}
	}
	return &root, nil
}

// Decode decodes n into out, which must be a non-nil pointer. Unknown and
// duplicate keys and values of the wrong type are errors; decoding goes on
// past them so that every problem is reported.
func Decode(n *yaml.Node, out any) []*Error {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		panic("yamlpos: Decode needs a non-nil pointer")
	}
	d := &decoder{}
	d.value(n, v.Elem(), nil, "")
	slices.SortStableFunc(d.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
	return d.errs
}

type decoder struct {
	errs  []*Error
	depth int
	field string // the struct field being decoded, named in value errors
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if d.field != "" {
		msg = d.field + ": " + msg
	}
	d.errs = append(d.errs, &Error{Pos: PosOf(n), Msg: msg})
}

// keyErrorf reports a problem with a mapping key, which needs no field name.
func (d *decoder) keyErrorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{Pos: PosOf(n), Msg: fmt.Sprintf(format, args...)})
}

var (
	metaType            = reflect.TypeFor[Meta]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	shorthandType       = reflect.TypeFor[Shorthand]()
)

// Shorthand is a struct that may also be written as a scalar: the scalar
// is the value of one of its fields (`clear: IF-MIB::linkUp` for
// `clear: {oid: IF-MIB::linkUp}`).
type Shorthand interface {
	// ShorthandField is the YAML name of the field a scalar sets.
	ShorthandField() string
}

// maxDepth bounds alias expansion ("billion laughs") and deep nesting.
const maxDepth = 10000

// value decodes n into v. parent and key say where to record positions of
// scalars inside maps and sequences.
func (d *decoder) value(n *yaml.Node, v reflect.Value, parent *Meta, key string) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.errorf(n, "document nested or aliased too deeply")
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return
		}
		d.value(n.Content[0], v, parent, key)
		return
	case yaml.AliasNode:
		d.value(n.Alias, v, parent, key)
		return
	}
	if parent != nil && key != "" {
		parent.set(key, n)
	}
	if isNull(n) {
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), parent, "")
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, "expected a scalar value, got %s", kindName(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.errorf(n, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind == yaml.ScalarNode && v.CanAddr() && v.Addr().Type().Implements(shorthandType) {
			d.shorthandValue(n, v)
			return
		}
		d.structValue(n, v)
	case reflect.Map:
		d.mapValue(n, v, parent, key)
	case reflect.Slice:
		d.sliceValue(n, v, parent, key)
	case reflect.String:
		if d.scalar(n, "a string") {
			v.SetString(n.Value)
		}
	case reflect.Bool:
		if !d.scalar(n, "a boolean") {
			return
		}
		b, ok := parseBool(n.Value)
		if !ok {
			d.errorf(n, "cannot parse %q as a boolean (true or false)", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !d.scalar(n, "an integer") {
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, v.Type().Bits())
		if err != nil {
			d.errorf(n, "cannot parse %q as an integer", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !d.scalar(n, "a non-negative integer") {
			return
		}
		i, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, v.Type().Bits())
		if err != nil {
			d.errorf(n, "cannot parse %q as a non-negative integer", n.Value)
			return
		}
		v.SetUint(i)
	case reflect.Float32, reflect.Float64:
		if !d.scalar(n, "a number") {
			return
		}
		f, err := strconv.ParseFloat(n.Value, v.Type().Bits())
		if err != nil {
			d.errorf(n, "cannot parse %q as a number", n.Value)
			return
		}
		v.SetFloat(f)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorf(n, "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		panic("yamlpos: unsupported type " + v.Type().String())
	}
}

func (d *decoder) scalar(n *yaml.Node, want string) bool {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "expected %s, got %s", want, kindName(n))
		return false
	}
	return true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func parseBool(s string) (bool, bool) {
	switch s {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	return false, false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

type pair struct{ key, value *yaml.Node }

// pairs returns the key/value pairs of a mapping with merge keys ("<<")
// expanded; keys written in the mapping itself win over merged ones.
func (d *decoder) pairs(n *yaml.Node) []pair {
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			d.depth++
			merged = append(merged, d.mergePairs(v)...)
			d.depth--
			continue
		}
		own = append(own, pair{k, v})
	}
	if len(merged) == 0 {
		return own
	}
	seen := make(map[string]bool, len(own))
	for _, p := range own {
		seen[p.key.Value] = true
	}
	out := own
	for _, p := range merged {
		if !seen[p.key.Value] {
			seen[p.key.Value] = true
			out = append(out, p)
		}
	}
	return out
}

func (d *decoder) mergePairs(v *yaml.Node) []pair {
	if d.depth > maxDepth {
		d.errorf(v, "merge keys nested too deeply")
		return nil
	}
	for v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		return d.pairs(v)
	case yaml.SequenceNode:
		var out []pair
		for _, m := range v.Content {
			out = append(out, d.mergePairs(m)...)
		}
		return out
	}
	d.errorf(v, "merge key needs a mapping or a list of mappings, got %s", kindName(v))
	return nil
}

func (d *decoder) mapping(n *yaml.Node) ([]pair, bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected a mapping, got %s", kindName(n))
		return nil, false
	}
	ps := d.pairs(n)
	seen := make(map[string]*yaml.Node, len(ps))
	out := ps[:0:0]
	for _, p := range ps {
		if p.key.Kind != yaml.ScalarNode {
			d.keyErrorf(p.key, "mapping key must be a scalar, got %s", kindName(p.key))
			continue
		}
		if first, dup := seen[p.key.Value]; dup {
			d.keyErrorf(p.key, "key %q already defined at line %d", p.key.Value, first.Line)
			continue
		}
		seen[p.key.Value] = p.key
		out = append(out, p)
	}
	return out, true
}

type fieldInfo struct {
	index []int
	name  string
}

func structFields(t reflect.Type) (fields map[string]fieldInfo, meta []int, names []string) {
	fields = make(map[string]fieldInfo)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type == metaType {
			meta = f.Index
			continue
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			inner, _, innerNames := structFields(f.Type)
			for k, fi := range inner {
				fields[k] = fieldInfo{index: append([]int{i}, fi.index...), name: fi.name}
			}
			names = append(names, innerNames...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = fieldInfo{index: f.Index, name: name}
		names = append(names, name)
	}
	return fields, meta, names
}

func (d *decoder) structValue(n *yaml.Node, v reflect.Value) {
	fields, metaIndex, names := structFields(v.Type())
	var meta *Meta
	if metaIndex != nil {
		meta = v.FieldByIndex(metaIndex).Addr().Interface().(*Meta)
		meta.Pos = PosOf(n)
	}
	ps, ok := d.mapping(n)
	if !ok {
		return
	}
	for _, p := range ps {
		f, ok := fields[p.key.Value]
		if !ok {
			d.keyErrorf(p.key, "unknown field %q (known fields: %s)", p.key.Value, strings.Join(names, ", "))
			continue
		}
		outer := d.field
		d.field = f.name
		d.value(p.value, v.FieldByIndex(f.index), meta, f.name)
		d.field = outer
	}
}

// shorthandValue decodes a scalar into the field a Shorthand names; the
// field's position is the scalar's.
func (d *decoder) shorthandValue(n *yaml.Node, v reflect.Value) {
	fields, metaIndex, _ := structFields(v.Type())
	var meta *Meta
	if metaIndex != nil {
		meta = v.FieldByIndex(metaIndex).Addr().Interface().(*Meta)
		meta.Pos = PosOf(n)
	}
	name := v.Addr().Interface().(Shorthand).ShorthandField()
	f, ok := fields[name]
	if !ok {
		panic("yamlpos: " + v.Type().String() + " has no field " + name)
	}
	d.value(n, v.FieldByIndex(f.index), meta, f.name)
}

func (d *decoder) mapValue(n *yaml.Node, v reflect.Value, parent *Meta, key string) {
	ps, ok := d.mapping(n)
	if !ok {
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		panic("yamlpos: map keys must be strings")
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(ps)))
	}
	for _, p := range ps {
		elem := reflect.New(t.Elem()).Elem()
		sub := ""
		if parent != nil && key != "" {
			sub = key + "." + p.key.Value
		}
		d.value(p.value, elem, parent, sub)
		v.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(t.Key()), elem)
	}
}

func (d *decoder) sliceValue(n *yaml.Node, v reflect.Value, parent *Meta, key string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		sub := ""
		if parent != nil && key != "" {
			sub = key + "[" + strconv.Itoa(i) + "]"
		}
		d.value(e, s.Index(i), parent, sub)
	}
	v.Set(s)
}
