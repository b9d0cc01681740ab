package yamlpos

import (
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// OffsetPos returns the position in the source of the byte at offset in the
// value of scalar n, so that an error found inside a value (a PromQL or log
// query syntax error) points at its exact column. lines is the source split
// at newlines. Where the value cannot be mapped back to the source
// character for character (escapes, folded scalars), the position of the
// value itself is returned.
func OffsetPos(n *yaml.Node, lines []string, offset int) Pos {
	start := PosOf(n)
	if n == nil || n.Kind != yaml.ScalarNode || offset < 0 || offset > len(n.Value) {
		return start
	}
	switch n.Style {
	case 0, yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if strings.Contains(n.Value, "\n") {
			return start
		}
		col := n.Column
		if n.Style != 0 {
			col++
		}
		if !sourceHas(lines, n.Line, col, n.Value) {
			return start
		}
		return Pos{Line: n.Line, Column: col + utf8.RuneCountInString(n.Value[:offset])}
	case yaml.LiteralStyle:
		before := n.Value[:offset]
		lineIndex := strings.Count(before, "\n")
		line := n.Line + 1 + lineIndex
		if line-1 >= len(lines) {
			return start
		}
		src := lines[line-1]
		indent := len(src) - len(strings.TrimLeft(src, " "))
		inLine := before[strings.LastIndexByte(before, '\n')+1:]
		valueLine := strings.Split(n.Value, "\n")[lineIndex]
		if !sourceHas(lines, line, indent+1, valueLine) {
			return start
		}
		return Pos{Line: line, Column: indent + 1 + utf8.RuneCountInString(inLine)}
	}
	return start
}

// sourceHas reports whether text appears in the source at line:col, where
// col counts characters.
func sourceHas(lines []string, line, col int, text string) bool {
	if line < 1 || line > len(lines) {
		return false
	}
	src := lines[line-1]
	for i := 1; i < col; i++ {
		_, size := utf8.DecodeRuneInString(src)
		if size == 0 {
			return false
		}
		src = src[size:]
	}
	return strings.HasPrefix(src, text)
}
