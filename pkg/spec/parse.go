package spec

import "errors"

// placeholder until the strict parser lands.
func parse(file string, data []byte) (*Cluster, Errors) {
	return nil, Errors{{File: file, Msg: errors.New("parser not written yet").Error()}}
}

func load(files map[string][]byte) Set { return Set{} }
