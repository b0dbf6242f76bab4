// Package spec owns the cluster spec: the YAML schema, its defaults, and
// strict validation whose errors name file, line, column and field.
//
// It reads bytes it is given and never calls AWS or touches git.
package spec
