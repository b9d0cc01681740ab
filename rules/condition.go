package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Measure is what a log condition compares.
type Measure string

const (
	// MeasureCount is the number of matching records of a group in the window.
	MeasureCount Measure = "count"
	// MeasureSpike is a group's count divided by its count in the window
	// before (ElastAlert's spike rule); a group with no records before
	// compares as if it had one.
	MeasureSpike Measure = "spike"
)

// Condition decides whether a group of a log source fires, for example
// "count > 0", "count < 1" (flatline: a group seen recently went quiet) or
// "spike >= 3".
type Condition struct {
	Measure   Measure
	Op        string
	Threshold float64
}

// DefaultCondition fires on any matching record.
var DefaultCondition = Condition{Measure: MeasureCount, Op: ">", Threshold: 0}

func (c Condition) String() string {
	return fmt.Sprintf("%s %s %s", c.Measure, c.Op, strconv.FormatFloat(c.Threshold, 'g', -1, 64))
}

// Holds reports whether the condition is true of v.
func (c Condition) Holds(v float64) bool {
	switch c.Op {
	case ">":
		return v > c.Threshold
	case ">=":
		return v >= c.Threshold
	case "<":
		return v < c.Threshold
	case "<=":
		return v <= c.Threshold
	case "==":
		return v == c.Threshold
	default:
		return v != c.Threshold
	}
}

// Flatline reports whether the condition can hold for a group with no
// records, so groups must be remembered to notice them going quiet.
func (c Condition) Flatline() bool { return c.Measure == MeasureCount && c.Holds(0) }

var conditionOps = []string{">=", "<=", "==", "!=", ">", "<"}

// ParseCondition parses "MEASURE OP NUMBER".
func ParseCondition(s string) (Condition, error) {
	fields := strings.Fields(s)
	if len(fields) == 1 {
		// Allow "count>0" written without spaces.
		for _, op := range conditionOps {
			if m, t, ok := strings.Cut(s, op); ok {
				fields = []string{strings.TrimSpace(m), op, strings.TrimSpace(t)}
				break
			}
		}
	}
	if len(fields) != 3 {
		return Condition{}, fmt.Errorf("condition %q must be MEASURE OP NUMBER, like \"count > 0\", \"count < 1\" or \"spike >= 3\"", s)
	}
	c := Condition{Measure: Measure(fields[0]), Op: fields[1]}
	if c.Measure != MeasureCount && c.Measure != MeasureSpike {
		return Condition{}, fmt.Errorf("condition %q: unknown measure %q (use count or spike)", s, fields[0])
	}
	known := false
	for _, op := range conditionOps {
		known = known || op == c.Op
	}
	if !known {
		return Condition{}, fmt.Errorf("condition %q: unknown operator %q (use one of %s)", s, c.Op, strings.Join(conditionOps, " "))
	}
	t, err := strconv.ParseFloat(fields[2], 64)
	if err != nil || math.IsNaN(t) || math.IsInf(t, 0) || t < 0 {
		return Condition{}, fmt.Errorf("condition %q: threshold %q must be a number >= 0", s, fields[2])
	}
	c.Threshold = t
	if c.Op == "<" && c.Threshold == 0 {
		return Condition{}, fmt.Errorf("condition %q can never hold: %s is never below 0", s, c.Measure)
	}
	return c, nil
}
