// Package opts helps components fill in their options structs.
package opts

// Default sets *v to def when it holds the zero value.
func Default[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
