// Package spec owns the cluster spec: the YAML schema, its defaults, and
// strict validation whose errors name file, line, column and field. It also
// imports ParallelCluster 2.x and CfnCluster 1.x INI configs and writes
// specs back out.
//
// It reads bytes it is given and never calls AWS or touches git.
package spec

//go:generate go run ./cmd/specgen -schema ../../schema/cluster.schema.json -docs ../../docs/spec.md
