package rules

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"
	"unicode"
)

// TemplateData is what a label or annotation template sees: .Labels and
// .Value, also as $labels and $value, as in Prometheus alerting rules, so
// annotations can be copied between the two.
type TemplateData struct {
	Labels map[string]string
	Value  float64
}

// TrapVarbinds is what a trap source's templates read of the trap being
// matched, by name (IF-MIB::ifDescr) or numeric OID.
type TrapVarbinds interface {
	// Varbind is the value of the object's varbind (with any instance).
	Varbind(nameOrOID string) (string, bool)
	// VarbindIndex is the instance suffix after the object's OID of its
	// varbind: "1" of cbgpPeer2State.1.4.192.0.2.1's "1.4.192.0.2.1".
	VarbindIndex(nameOrOID string) (string, bool)
}

// Template is one label or annotation text in Go template syntax.
type Template struct {
	text string
	tmpl *template.Template // nil when text has no actions

	// trapClones are copies of tmpl whose varbind function reads the trap
	// being matched: cloning per trap would cost more than matching it.
	trapClones sync.Pool
}

type trapClone struct {
	tmpl     *template.Template
	varbinds TrapVarbinds
}

// Same idea as Prometheus's template expander: the prelude defines
// $labels and $value for the text that follows.
const templatePrelude = "{{$labels := .Labels}}{{$value := .Value}}"

var templateFuncs = template.FuncMap{
	"toUpper":          strings.ToUpper,
	"toLower":          strings.ToLower,
	"title":            title,
	"match":            regexp.MatchString,
	"reReplaceAll":     reReplaceAll,
	"humanize":         humanize,
	"humanizeDuration": humanizeDuration,
	"join":             strings.Join,
}

// trapTemplateFuncs adds what only trap source labels can use: varbind and
// varbindIndex, which read the trap being matched, and inetAddress and
// ipAddress, which make an address of an index.
var trapTemplateFuncs = withFuncs(templateFuncs, template.FuncMap{
	"varbind": func(string) (string, error) {
		return "", errors.New("varbind is only available while a trap is being matched")
	},
	"varbindIndex": func(string) (string, error) {
		return "", errors.New("varbindIndex is only available while a trap is being matched")
	},
	"inetAddress": InetAddressIndex,
	"ipAddress":   IPAddressIndex,
})

func withFuncs(base, extra template.FuncMap) template.FuncMap {
	out := make(template.FuncMap, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func parseTemplate(name, text string, funcs template.FuncMap) (*Template, error) {
	if !strings.Contains(text, "{{") {
		return &Template{text: text}, nil
	}
	t, err := template.New(name).Funcs(funcs).Option("missingkey=zero").Parse(templatePrelude + text)
	if err != nil {
		return nil, cleanTemplateError(name, err)
	}
	return &Template{text: text, tmpl: t}, nil
}

// cleanTemplateError drops the "template: NAME:" prefix text/template puts
// on its errors: the caller already says where the template is.
func cleanTemplateError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	msg = strings.TrimPrefix(msg, name+":")
	if line, rest, ok := strings.Cut(msg, ": "); ok {
		if _, convErr := strconv.Atoi(line); convErr == nil {
			if line == "1" {
				return errors.New(rest)
			}
			return fmt.Errorf("line %s of the template: %s", line, rest)
		}
	}
	return errors.New(msg)
}

// Text returns the template's source.
func (t *Template) Text() string { return t.text }

// Execute renders the template.
func (t *Template) Execute(data TemplateData) (string, error) {
	return t.execute(t.tmpl, data)
}

// ExecuteTrap renders a trap source template, where varbind and
// varbindIndex read the trap's varbinds. A varbind the trap does not carry
// renders as "".
func (t *Template) ExecuteTrap(data TemplateData, varbinds TrapVarbinds) (string, error) {
	if t.tmpl == nil {
		return t.text, nil
	}
	c, _ := t.trapClones.Get().(*trapClone)
	if c == nil {
		tmpl, err := t.tmpl.Clone()
		if err != nil {
			return "", err
		}
		c = &trapClone{tmpl: tmpl}
		tmpl.Funcs(template.FuncMap{
			"varbind": func(name string) string {
				v, _ := c.varbinds.Varbind(name)
				return v
			},
			"varbindIndex": func(name string) string {
				v, _ := c.varbinds.VarbindIndex(name)
				return v
			},
		})
	}
	c.varbinds = varbinds
	out, err := t.execute(c.tmpl, data)
	c.varbinds = nil
	t.trapClones.Put(c)
	return out, err
}

func (t *Template) execute(tmpl *template.Template, data TemplateData) (string, error) {
	if tmpl == nil {
		return t.text, nil
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("cannot expand template %q: %w", t.text, err)
	}
	return b.String(), nil
}

func reReplaceAll(pattern, repl, text string) (string, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return "", err
	}
	return re.ReplaceAllString(text, repl), nil
}

func title(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		defer func() { prev = r }()
		if unicode.IsSpace(prev) || unicode.IsPunct(prev) {
			return unicode.ToTitle(r)
		}
		return r
	}, s)
}

// humanize writes v with an SI prefix, as Prometheus's humanize does.
func humanize(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprintf("%.4g", v)
	}
	if math.Abs(v) >= 1 {
		prefix := ""
		for _, p := range []string{"k", "M", "G", "T", "P", "E", "Z", "Y"} {
			if math.Abs(v) < 1000 {
				break
			}
			prefix = p
			v /= 1000
		}
		return fmt.Sprintf("%.4g%s", v, prefix)
	}
	prefix := ""
	for _, p := range []string{"m", "u", "n", "p", "f", "a", "z", "y"} {
		if math.Abs(v) >= 1 {
			break
		}
		prefix = p
		v *= 1000
	}
	return fmt.Sprintf("%.4g%s", v, prefix)
}

// humanizeDuration writes seconds as a duration ("1h 2m 3s").
func humanizeDuration(seconds float64) string {
	if math.IsNaN(seconds) || math.IsInf(seconds, 0) {
		return fmt.Sprintf("%.4g", seconds)
	}
	if math.Abs(seconds) < 1 {
		return time.Duration(seconds * float64(time.Second)).String()
	}
	d := time.Duration(math.Round(seconds)) * time.Second
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h, m, s := d/time.Hour, (d%time.Hour)/time.Minute, (d%time.Minute)/time.Second
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%dd", days))
	}
	if h > 0 {
		parts = append(parts, fmt.Sprintf("%dh", h))
	}
	if m > 0 {
		parts = append(parts, fmt.Sprintf("%dm", m))
	}
	if s > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%ds", s))
	}
	return sign + strings.Join(parts, " ")
}
